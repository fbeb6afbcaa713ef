// Halide algorithm builders of the cnn ops: one pure definition per op
// family, no scheduling (schedules live in CpuSchedule.h and friends).
//
// Conventions shared with the MLIR walker:
//  - A tensor in PyTorch order [N, C, H, W] is a Func f(x, y, c, n) (innermost
//    dimension first: x = W, y = H); [N, F] is f(f, n). Memory layout NCHW,
//    weights OIHW: a weight [O, I, KH, KW] is w(kx, ky, i, o), a Linear
//    weight [out, in] is w(i, o), a bias [C] is b(c).
//  - Every dimension but the batch (shape[0] == cnn::shape::kDynamic) is
//    static; the batch extent is only known when the pipeline runs.
//  - Element type float32.
//  - Semantics follow PyTorch exactly (see each builder).
//  - Builders validate shapes with the shared rules in cnn/ShapeRules.h and
//    throw std::invalid_argument on a bad op; they never abort.
#ifndef CNNC_HALIDE_OPS_H
#define CNNC_HALIDE_OPS_H

#include "cnn/ShapeRules.h"

#include <Halide.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::hl {

/// A value of the graph: its Halide Func and its shape in PyTorch order.
struct Tensor {
  Halide::Func func;
  cnn::shape::Shape shape; // shape[0] == cnn::shape::kDynamic (the batch)
};

/// What an op is to the schedules: ops of one kind are scheduled alike.
enum class OpKind {
  Conv2d,
  Linear,
  Elementwise, // activations, adds
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  Pad2d,
  Softmax, // and log-softmax
  Concat,
  Flatten,
  BatchNorm2d
};

const char *opKindName(OpKind kind);
/// Element-wise ops and BatchNorm2d (x * scale(c) + shift(c), given its
/// per-channel Funcs): one output element from the same element of each
/// operand, so a schedule may fuse them into the loops of a producer.
bool isElementwise(OpKind kind);

/// One element of a result from the same element of the operand (an
/// activation, see Activations.h).
using ElementFormula = std::function<Halide::Expr(const Halide::Expr &x)>;

/// One lowered op: its result and the named pieces a schedule needs.
///
/// Structure by family (all Funcs pure definitions, nothing scheduled):
///  - Conv2d, Linear, the pools: `accum` holds the reduction (a pure
///    initial value, then exactly one update over `rdom`); `output` is a
///    pure Func reading `accum` (identity, or the division of an average).
///  - Conv2d, MaxPool2d, AvgPool2d with padding (or a ceil_mode window past
///    the input): `padded` is the input with its constant boundary (0, or
///    -inf for max); undefined otherwise.
///  - Elementwise (activations, add), Pad2d, Concat and Flatten: only
///    `output` (a pure element-wise / index remapping Func); `accum`,
///    `padded` undefined.
///  - Softmax: `output` is pure; `stored` holds the maximum and the sum of
///    exponentials along the dimension (reductions: an initial value, then
///    one update over their own RDom); `accum`, `padded` undefined.
///  - BatchNorm2d: `output` is x * scale(c) + shift(c), element-wise;
///    `stored` holds the per-channel Funcs to compute once: in training
///    mode the ChannelStats' sum, mean, centred and var (their only
///    scheduling place, though gradients read them too), then scale and
///    shift; `accum`, `padded` undefined.
struct LoweredOp {
  OpKind kind;
  Tensor output;
  /// The operands as passed: input, then weight and bias where present.
  /// Schedules use them to find producer/consumer pairs (by Func name).
  std::vector<Tensor> inputs;
  /// Pure loop variables of `output` (and of `accum`), innermost first:
  /// (x, y, c, n) for rank 4, (f, n) for rank 2.
  std::vector<Halide::Var> vars;
  Halide::Func padded;
  Halide::Func accum;
  /// Reduction domain of `accum`'s update:
  ///  Conv2d: (kx, ky, ci) with ci the input channel within the group;
  ///  Linear: (k) over in_features;
  ///  MaxPool2d / AvgPool2d: (kx, ky);
  ///  AdaptiveAvgPool2d, AdaptiveMaxPool2d: (kx, ky) over the largest
  ///  window (shorter windows add 0, or -inf for max, for the missing taps).
  Halide::RDom rdom;
  /// Small intermediates to compute once (batch norm's scale and shift).
  std::vector<Halide::Func> stored;
  /// An element-wise op that first reads all of its input (batch norm with
  /// batch statistics): it cannot be computed in its producer's loops.
  bool readsWholeInput = false;
};

/// Per-channel statistics of an [N, C, H, W] tensor over (N, H, W), as
/// batch norm's training mode uses them. `sum` and `centred` are
/// reductions: f(c) = 0, then one update over `rdom` (x, y, n), so a
/// schedule can split them like any per-channel sum; `mean` and `var`
/// (biased) are pure Funcs of c reading them. Two passes (the variance
/// sums (x - mean)^2) so that channels with a large mean keep their
/// precision.
struct ChannelStats {
  Halide::Func sum, centred;
  Halide::Func mean, var;
  Halide::RDom rdom;
  /// M = N * H * W as a float Expr (N is the run-time batch).
  Halide::Expr count;
};

/// The statistics of `input` [N, C, H, W]; `batch` is the run-time batch
/// extent (as Gradients.h's reductions take it).
ChannelStats channelStats(const Tensor &input, const Halide::Expr &batch,
                          const std::string &name = "bn_stats");

/// PyTorch BatchNorm2d (affine, tracking running statistics):
/// y = (x - mean) / sqrt(var + eps) * weight + bias per channel, computed
/// as x * scale + shift. mean and var are the running statistics
/// (`batchStats` null: eval mode) or the batch's mean and biased variance
/// (training mode). input [N, C, H, W]; the others [C].
LoweredOp batchNorm2d(const Tensor &input, const Tensor &weight,
                      const Tensor &bias, const Tensor &runningMean,
                      const Tensor &runningVar, double eps,
                      const ChannelStats *batchStats,
                      const std::string &name = "batchnorm2d");

/// PyTorch Conv2d: cross-correlation, zero padding, stride, dilation,
/// groups, optional bias. input [N, C, H, W], weight [O, C/groups, KH, KW],
/// bias [O].
LoweredOp conv2d(const Tensor &input, const Tensor &weight,
                 const std::optional<Tensor> &bias,
                 const cnn::shape::Conv2dArgs &args,
                 const std::string &name = "conv2d");

/// PyTorch Linear: y = x W^T + b. input [N, in], weight [out, in], bias [out].
LoweredOp linear(const Tensor &input, const Tensor &weight,
                 const std::optional<Tensor> &bias,
                 const std::string &name = "linear");

/// `formula` of each element of a tensor of any rank: an activation
/// (Activations.h).
LoweredOp elementwise(const Tensor &input, const ElementFormula &formula,
                      const std::string &name = "elementwise");

/// Where a training-mode dropout's mask comes from (docs/design.md,
/// "Dropout masks"): its probability p, whether whole channels of
/// [N, C, H, W] drop (Dropout2d), the layer's stream, and the run's seed
/// (a UInt(64) scalar), step index and first sample (Int(64)). Element e
/// of sample n is dropped when the top 24 bits of hash(seed, step, stream,
/// first sample + n, e) fall below p * 2^24, e its index in the sample in C
/// order (channelwise: the channel).
struct DropoutMask {
  double p = 0.5;
  bool channelwise = false;
  uint32_t stream = 0;
  Halide::Expr seed, step;
  /// Added to a sample's index in the batch: the batch's first sample in
  /// the global batch it is a slice of (data parallelism; Int(64), 0
  /// otherwise), so that a sample draws the same mask in any slice.
  Halide::Expr firstSample = Halide::Internal::make_const(Halide::Int(64), 0);
};

/// Training-mode dropout: y = x * noise, noise = kept ? 1 / (1 - p) : 0
/// (PyTorch's formula, so a dropped NaN stays NaN).
LoweredOp dropout(const Tensor &input, const DropoutMask &mask,
                  const std::string &name = "dropout");

/// PyTorch MaxPool2d: pads with -inf; padding, stride, dilation, ceil_mode.
LoweredOp maxPool2d(const Tensor &input, const cnn::shape::Pool2dArgs &args,
                    const std::string &name = "maxpool2d");

/// PyTorch AvgPool2d (no dilation; ceil_mode). With countIncludePad the
/// divisor is the window clipped to the padded input, else the number of
/// real input elements in the window; args.divisorOverride replaces both.
LoweredOp avgPool2d(const Tensor &input, const cnn::shape::Pool2dArgs &args,
                    bool countIncludePad,
                    const std::string &name = "avgpool2d");

/// PyTorch AdaptiveAvgPool2d: window i spans [floor(i*H/oh), ceil((i+1)*H/oh)).
LoweredOp adaptiveAvgPool2d(const Tensor &input, cnn::shape::Pair outputSize,
                            const std::string &name = "adaptive_avgpool2d");

/// PyTorch F.pad of H and W (conv2d's padding_mode names): begin [top,
/// left], end [bottom, right]; zeros, reflect (no edge repeat), replicate
/// or circular. input [N, C, H, W].
LoweredOp pad2d(const Tensor &input, const cnn::shape::Pad2dArgs &args,
                const std::string &name = "pad2d");

/// PyTorch AdaptiveMaxPool2d: the maximum of adaptiveAvgPool2d's windows.
LoweredOp adaptiveMaxPool2d(const Tensor &input, cnn::shape::Pair outputSize,
                            const std::string &name = "adaptive_maxpool2d");

/// torch.cat(inputs, dim) of two or more tensors of one rank (dim counts
/// PyTorch dimensions, 1 .. rank - 1).
LoweredOp concat(const std::vector<Tensor> &inputs, int dim,
                 const std::string &name = "cat");

/// PyTorch Softmax(dim) (`log`: LogSoftmax(dim)) of a tensor of rank >= 2;
/// dim counts PyTorch dimensions (1 .. rank - 1). From x - max.
LoweredOp softmax(const Tensor &input, int dim, bool log,
                  const std::string &name = "softmax");

/// A constant tensor: every element `value` (cnn.fill). Not an op: it is
/// inlined wherever it is read.
Tensor filled(const cnn::shape::Shape &shape, float value,
              const std::string &name = "fill");

/// lhs + rhs, element-wise, of two tensors of one shape (any rank).
LoweredOp add(const Tensor &lhs, const Tensor &rhs,
              const std::string &name = "add");

/// PyTorch Flatten(start_dim=1): [N, d1, ..., dk] -> [N, d1*...*dk], C order.
LoweredOp flatten(const Tensor &input, const std::string &name = "flatten");

} // namespace cnnc::hl

#endif // CNNC_HALIDE_OPS_H
