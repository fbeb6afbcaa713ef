// The GPU schedules' convolution kernels (not installed, not public): a
// convolution-like sum (a forward convolution, a convolution's input
// gradient) warp-tiled or channel-tiled, its input staged in shared memory
// where that pays (docs/gpu.md).
#ifndef CNNC_HALIDE_LIB_GPUCONVOLUTION_H
#define CNNC_HALIDE_LIB_GPUCONVOLUTION_H

#include "cnn/ShapeRules.h"
#include "cnnc/halide/MachineModel.h"

#include "Halide.h"

#include <optional>
#include <string>
#include <vector>

namespace cnnc::hl::gpu {

/// The pixels and channel tiles of one block of a convolution-like kernel,
/// and where the threads of a block hold their accumulators.
struct ChannelTiling {
  /// A thread's channels and rows (its register tile: tile x rows
  /// accumulators, each input value it loads feeding `tile` of them and each
  /// weight `rows`), and the block's threads along x, y and channel tiles.
  int tile, rows, tx, ty, tc;
  /// CUDA: the threads along x are a warp's lanes (gpu_lanes), so that
  /// accumulators a block allocates are striped over the lanes, each
  /// lane's in its registers. OpenCL has no lanes: all are gpu_threads, and
  /// a block's accumulators are in its shared memory (slower; the kernels
  /// stay the same, which the tests run on the CPU).
  bool lanes;
};

/// The tiling of a kernel over `shape` [N, C, H, W] whose threads each
/// accumulate up to `maxTile` channels of a pixel, and with `manyRows` of
/// as many rows as gpu.accumulatorsPerThread allows (a power of two, and
/// at most a quarter of the rows, so that a block still spans several
/// threads' rows).
ChannelTiling channelTiling(const cnn::shape::Shape &shape, const GpuModel &gpu,
                            int maxTile, bool manyRows);

/// The loops of a channel-tiled stage (innermost first): a thread's
/// channels and rows, the block's threads, then the blocks.
struct TileLoops {
  Halide::Var ci{"ci"}, yr{"yr"}, xi{"xi"}, yi{"yi"}, ct{"ct"}, xo{"xo"},
      yo{"yo"}, cb{"cb"};
};

/// Stores `out` (x, y, c, n) with one kernel tiled by `t`: blocks over the
/// pixel tiles and (channel tiles, images), a thread's register tile
/// unrolled. The caller puts the threads on the block's (xi, yi, ct).
TileLoops launchTiles(Halide::Func out, const ChannelTiling &t);

/// The update of `accum` (a convolution-like sum over (kx, ky, ci)): each
/// thread adds a kernel row of taps per iteration into every channel of its
/// tile.
void unrollTaps(Halide::Stage sums, const Halide::Func &accum);

/// The extents of the box of `callee` that the update of `reader` reads
/// over a box of its loops: its pure Vars (innermost first) over
/// [0, pure[i]) and its reduction variables over [0, reduction[i]) (over
/// their whole extent where `reduction` has no entry): Halide's bounds of
/// the update's calls. Nothing when those are not constant, or when
/// `reader` does not call `callee`.
std::optional<std::vector<int64_t>>
extentsRead(const Halide::Func &reader, const std::string &callee,
            const std::vector<int64_t> &pure,
            const std::vector<int64_t> &reduction);

/// The number of elements in that box (extentsRead).
std::optional<int64_t> elementsRead(const Halide::Func &reader,
                                    const std::string &callee,
                                    const std::vector<int64_t> &pure,
                                    const std::vector<int64_t> &reduction);

/// Stores `out` (x, y, c, n) of `shape` [N, C, H, W], whose every element
/// is the convolution-like sum `accum` of `source` (over rdom `r`: taps
/// along x and y, then channels; `c` its output channel): warp-tiled where
/// its output channels fill warps, else channel-tiled, staging `source` in
/// shared memory where that pays (docs/gpu.md; a strided convolution's
/// input gradient, which divides the coordinates it reads, only in warp
/// tiles of whole strides). Returns whether the kernel stages `source`
/// (else the caller stores it where it is a stage of its own).
bool storeConvolution(Halide::Func out, Halide::Func accum,
                      const Halide::Func &source, const Halide::RDom &r,
                      const Halide::Var &c, const cnn::shape::Shape &shape,
                      const GpuModel &gpu);

} // namespace cnnc::hl::gpu

#endif // CNNC_HALIDE_LIB_GPUCONVOLUTION_H
