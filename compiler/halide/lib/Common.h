// Helpers shared by the algorithm builders (not installed, not public).
#ifndef CNNC_HALIDE_LIB_COMMON_H
#define CNNC_HALIDE_LIB_COMMON_H

#include "cnnc/halide/Ops.h"

#include <string>
#include <vector>

namespace cnnc::hl::detail {

/// Throws std::invalid_argument("<op>: <message>") for a failed shape rule.
cnn::shape::Shape checkShape(const char *op,
                             const cnn::shape::ShapeResult &result);

/// Throws unless `t` has a defined Func of the same rank as its shape and
/// every dimension but the batch is static (> 0).
void checkTensor(const char *op, const char *what, const Tensor &t);

/// Fresh loop variables for a result of `rank`, innermost first, named
/// after the PyTorch dims ("x", "y", "c", "n" / "f", "n").
std::vector<Halide::Var> makeVars(const std::string &prefix, size_t rank);

/// A unique Func name made from the caller's (layer) name and a suffix.
std::string funcName(const std::string &name, const char *suffix = "");

/// `input` [N, C, H, W] surrounded by `value` in (x, y), a pure Func
/// (Halide's constant_exterior) for a schedule to store: whole images, or
/// a parallel task's band of rows with the kernel's halo. Halide's loop
/// partitioning copies the inside of each stored row with dense vector
/// loads; a vector across the row's border selects and gathers (each
/// vector of a row narrower than two). A fill, then the rows copied over
/// it with dense loads, measured no faster (a 14x14 conv of 256 channels,
/// b16 forward: 15.1-15.4 ms either way) nor in conv64's b1 forward.
Halide::Func paddedInput(const Tensor &input, float value,
                         const std::string &name);

/// Vector width for a loop of `extent`: the target's natural width, halved
/// (not below 4) while half of it still covers the extent, so that narrow
/// tensors (7 wide, say) are not padded out to 16 lanes. Used by schedules.
int vectorWidth(int natural, int64_t extent);

/// The widest power of two up to the natural width that fits in `extent`
/// (1: too short to vectorise): whole vectors only, for loops whose tail is
/// a last full vector shifted inwards (ShiftInwards needs width <= extent;
/// Halide 14 runs a GuardWithIf vector tail as scalar code).
int wholeVectorWidth(int natural, int64_t extent);

/// Lanes of partial sums over a reduced row of `extent` (rfactor): the
/// whole row when it fits two vectors, else a divisor of it near the
/// natural width (no tail), else the natural width (a guarded last chunk).
int reductionLanes(int extent, int natural);

/// AdaptiveAvgPool2d's window o of `out` over an axis of `in`:
/// [floor(o * in / out), ceil((o + 1) * in / out)).
Halide::Expr adaptiveWindowStart(const Halide::Expr &o, int in, int out);
Halide::Expr adaptiveWindowEnd(const Halide::Expr &o, int in, int out);
/// The longest of those windows.
int longestAdaptiveWindow(int in, int out);

/// The input index that padded position `p` copies along an axis of
/// `extent` with `before` padded positions ahead of it (pad2d's modes;
/// zeros clamps to the edge, the caller masks the border). Always inside
/// [0, extent): pads are within the shape rule's limits.
Halide::Expr padSource(const Halide::Expr &p, int extent, int before,
                       cnn::shape::PadMode mode);

/// A pool's geometry as ints: input and output heights and widths, kernel,
/// stride, padding, dilation ([h, w] as y, x), and whether a window reads
/// outside the input (padding or ceil_mode).
struct PoolWindow {
  int inH, inW, outH, outW, kH, kW, sy, sx, py, px, dy, dx;
  bool readsOutside;
};
PoolWindow poolWindow(const cnn::shape::Shape &input,
                      const cnn::shape::Shape &output,
                      const cnn::shape::Pool2dArgs &args);

/// PyTorch AvgPool2d's divisor of output window (oy, ox) over an input of
/// inH x inW: the window clipped to the padded input [-pad, in + pad)
/// (countIncludePad), or further clipped to the real input [0, in);
/// args.divisorOverride when it is given. Shared by the forward and its
/// gradient so the two cannot disagree.
Halide::Expr avgPoolDivisor(const Halide::Expr &oy, const Halide::Expr &ox,
                            int inH, int inW,
                            const cnn::shape::Pool2dArgs &args,
                            bool countIncludePad);

} // namespace cnnc::hl::detail

#endif // CNNC_HALIDE_LIB_COMMON_H
