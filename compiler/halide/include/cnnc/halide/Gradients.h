// Halide algorithm builders of the backward ops for training: the loss, the
// gradient of every forward op of Ops.h, and the SGD update. Same
// conventions as Ops.h (Func f(x, y, c, n) for [N, C, H, W], f(f, n) for
// [N, F], weights OIHW, float32, PyTorch semantics, pure definitions with
// no scheduling: GradientSchedule.h schedules them).
//
// Reductions over the batch (weight and bias gradients, the loss) need the
// batch extent as an Expr `batch`: the walker passes the run-time extent of
// an input, e.g. `x.dim(3).extent()` of the activation's ImageParam (the
// batch is Halide dimension rank - 1).
//
// Every gradient is a gather (each result element sums what it receives),
// never a scatter: no atomics, every output element is written once, so the
// pure loops of every Func may run in parallel.
#ifndef CNNC_HALIDE_GRADIENTS_H
#define CNNC_HALIDE_GRADIENTS_H

#include "cnnc/halide/Ops.h"

#include <Halide.h>

#include <functional>
#include <string>
#include <vector>

namespace cnnc::hl {

enum class GradKind {
  SoftmaxCrossEntropy,     // the loss value
  SoftmaxCrossEntropyGrad, // d loss / d logits
  Conv2dInputGrad,
  Conv2dWeightGrad,
  BiasGrad, // conv ([N, C, H, W] dy) and linear ([N, F] dy)
  LinearInputGrad,
  LinearWeightGrad,
  ElementwiseGrad, // activation gradients
  MaxPool2dGrad,
  AvgPool2dGrad,
  AdaptiveAvgPool2dGrad,
  AdaptiveMaxPool2dGrad,
  Pad2dGrad,
  SoftmaxGrad, // and log-softmax's
  Slice,       // cat's gradient
  FlattenGrad,
  SgdUpdate,
  BatchNorm2dInputGrad,
  BatchNorm2dWeightGrad,
  BatchNorm2dStatsUpdate
};

const char *gradKindName(GradKind kind);

/// One lowered backward op: its result and the named pieces a schedule
/// needs (the analogue of LoweredOp).
///
///  - `output`: the result, a pure Func. For SgdUpdate the new parameter;
///    the new momentum buffer is `extraOutputs[0]` (when there is one).
///  - `accum`: the reduction behind `output` (pure init, then one update
///    over `rdom` whose pure args are exactly `vars`), undefined for
///    element-wise ops (activations, flatten, SGD).
///  - `rdom`: the reduction domain of `accum`'s update (see each builder).
///  - `stored`: intermediate reductions that the schedule should store
///    once (compute_root): the max-pool argmax, the softmax row max and
///    sum of exponentials, the per-sample losses, the zero-padded operands
///    of the conv gradients (pure copies). Each is a Func whose pure
///    args are its Vars and whose updates (if any) have the same pure args.
struct LoweredGrad {
  GradKind kind;
  Tensor output;
  std::vector<Tensor> extraOutputs;
  /// The operands as passed (upstream gradients, saved forward values,
  /// weights).
  std::vector<Tensor> inputs;
  /// Pure loop variables of `output` (and `accum`), innermost first.
  std::vector<Halide::Var> vars;
  Halide::Func accum;
  Halide::RDom rdom;
  std::vector<Halide::Func> stored;
};

// --- loss ---------------------------------------------------------------

/// PyTorch CrossEntropyLoss (reduction 'mean', no weights, no smoothing)
/// on logits [N, K] and class labels [N]: loss = mean over n of
/// (logsumexp(logits[n]) - logits[n, label[n]]), the logsumexp computed
/// after subtracting the row max. `labels` is a 1-D Func label(n) of type
/// Int(32) or Int(64) (PyTorch's int64 targets); a label outside [0, K) is
/// not checked (PyTorch raises) and reads a clamped logit. The result is a
/// 0-dimensional Func (shape {}). `stored`: row max, sum of exponentials,
/// per-sample loss.
LoweredGrad softmaxCrossEntropy(const Tensor &logits,
                                const Halide::Func &labels,
                                const Halide::Expr &batch,
                                const std::string &name = "cross_entropy");

/// d loss / d logits = dloss * (softmax(logits) - onehot(label)) / N,
/// [N, K]. `dloss` is the upstream gradient of the scalar loss (1 when the
/// loss is the objective). `stored`: row max, sum of exponentials.
LoweredGrad
softmaxCrossEntropyGrad(const Tensor &logits, const Halide::Func &labels,
                        const Halide::Expr &batch,
                        const Halide::Expr &dloss = 1.0f,
                        const std::string &name = "cross_entropy_grad");

// --- conv2d, linear -----------------------------------------------------

/// dx [N, C, H, W] of conv2d from dy [N, O, Ho, Wo] and weight
/// [O, C/g, KH, KW], `inputShape` the forward input's shape. A gather: each
/// input pixel sums, over its group's output channels and the kernel taps
/// whose stride alignment lands on an output pixel, dy * w. rdom
/// (kx, ky, o-within-group). `stored[0]`: dy behind a zero exterior.
LoweredGrad conv2dInputGrad(const Tensor &dy, const Tensor &weight,
                            const cnn::shape::Shape &inputShape,
                            const cnn::shape::Conv2dArgs &args,
                            const std::string &name = "conv2d_dx");

/// Pixels per chunk of a conv weight gradient's row sums (see
/// conv2dWeightGrad): whole vectors on every CPU cnnc schedules (16 floats
/// with AVX-512, 2 x 8 with AVX2, 4 x 4 with NEON).
constexpr int kWeightGradRowChunk = 16;

/// Whether a conv weight gradient of `weightShape` [O, C/g, KH, KW] sums
/// whole rows (no chunks, whatever their width): ungrouped, with output
/// and input channels that fill whole chunks and kernel rows of at most 12
/// taps. Every CPU schedule then
/// vectorises it over the output channels instead of along x, from a copy
/// of dy with the channels innermost, which pays off when each dy value
/// feeds many taps (ResNet-18's stem, 3 input channels, was slower so).
bool weightGradOverOutputChannels(const cnn::shape::Shape &weightShape,
                                  const cnn::shape::Conv2dArgs &args);

/// dw of conv2d, of `weightShape` [O, C/g, KH, KW] (the forward weight's),
/// from the forward input x [N, C, H, W] and dy [N, O, Ho, Wo]: the sum
/// over (n, oy, ox) of x(tap) * dy. rdom (ox, oy, n) with n over
/// [0, batch). `stored[0]`: x behind its zero padding (4-D, with padding),
/// or with a stride along x (unless weightGradOverOutputChannels) x by
/// phase, [x / sx, x % sx, y, c, n] from the padded input's first column.
/// Rows wider than kWeightGradRowChunk are summed in chunks of that many
/// pixels instead (unless weightGradOverOutputChannels), rdom (pixel,
/// chunk, oy, n): the last chunk ends at the
/// row's end (shifted inwards) and masks the pixels the one before it
/// counted, so a schedule can vectorise every chunk as whole vectors with
/// no partial tail (a row of 28 is 16 + 16, 12 of them masked). With
/// `wholeRows` (the GPU schedules' form, which tile lanes over output
/// channels, not x) neither chunks nor phases, whatever the shape.
LoweredGrad conv2dWeightGrad(const Tensor &input, const Tensor &dy,
                             const cnn::shape::Shape &weightShape,
                             const cnn::shape::Conv2dArgs &args,
                             const Halide::Expr &batch,
                             const std::string &name = "conv2d_dw",
                             bool wholeRows = false);

/// db [C] from dy [N, C, H, W] (sum over n, y, x; rdom (x, y, n)) or from
/// dy [N, F] (sum over n; rdom (n)).
LoweredGrad biasGrad(const Tensor &dy, const Halide::Expr &batch,
                     const std::string &name = "bias_grad");

/// Linear dx [N, in] = dy [N, out] W [out, in]. rdom (o).
LoweredGrad linearInputGrad(const Tensor &dy, const Tensor &weight,
                            const std::string &name = "linear_dx");

/// Linear dW [out, in] = dy^T x: sum over n of dy(o, n) x(k, n). rdom (n).
LoweredGrad linearWeightGrad(const Tensor &input, const Tensor &dy,
                             const Halide::Expr &batch,
                             const std::string &name = "linear_dw");

// --- activations, flatten -------------------------------------------------

/// An element-wise gradient: dx = formula(saved, dy) per element (any rank),
/// `saved` the forward value the rule reads (an activation's result y, see
/// Activations.h).
using ElementGradFormula = std::function<Halide::Expr(const Halide::Expr &saved,
                                                      const Halide::Expr &dy)>;
LoweredGrad elementwiseGrad(const Tensor &saved, const Tensor &dy,
                            const ElementGradFormula &formula,
                            const std::string &name = "elementwise_grad");

/// Dropout backward: dx = dy * noise, the forward's noise recomputed from
/// the same mask (Ops.h).
LoweredGrad dropoutGrad(const Tensor &dy, const DropoutMask &mask,
                        const std::string &name = "dropout_grad");

/// Unflatten: dy [N, F] -> dx of `inputShape` (the forward input's shape,
/// [N, d1, ..., dk] with F = d1 * ... * dk, C order).
LoweredGrad flattenGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                        const std::string &name = "flatten_grad");

// --- pooling --------------------------------------------------------------

/// MaxPool2d backward: dx [N, C, H, W] from the forward input x and dy.
/// As PyTorch, each window routes its gradient to the first maximum in
/// scan order (ky outer, kx inner) among its in-bounds taps (padding never
/// wins; a NaN wins, the last NaN of the window); overlapping windows add.
/// `stored[0]` is the argmax Tuple Func (max value, tap index ky * KW + kx)
/// per output pixel (rdom (kx, ky)); dx gathers, for each input pixel, the
/// windows whose argmax is that pixel (accum over rdom (kx, ky)). When the
/// windows tile the input (stride = kernel, no padding, no dilation),
/// `stored[0]` is instead a pure Func of the winning tap index (no update)
/// and dx a select per pixel (no accum).
LoweredGrad maxPool2dGrad(const Tensor &input, const Tensor &dy,
                          const cnn::shape::Pool2dArgs &args,
                          const std::string &name = "maxpool2d_grad");

/// AvgPool2d backward: dx of `inputShape` from dy; each input pixel gathers
/// dy / divisor of every window covering it (same divisor as the forward,
/// countIncludePad or not). rdom (kx, ky).
LoweredGrad avgPool2dGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                          const cnn::shape::Pool2dArgs &args,
                          bool countIncludePad,
                          const std::string &name = "avgpool2d_grad");

/// AdaptiveMaxPool2d backward: each window's first maximum (PyTorch's
/// scan: `val > max || isnan(val)`) found per output in `stored[0]` as its
/// input index, then each input pixel gathers dy of the windows it wins;
/// rdom (jx, jy) over the most windows covering one input column / row,
/// even where the windows tile the input.
LoweredGrad
adaptiveMaxPool2dGrad(const Tensor &input, const Tensor &dy,
                      const std::string &name = "adaptive_maxpool2d_grad");

/// cat backward: `length` elements of dy from `start` along PyTorch
/// dimension `dim`, a pure copy.
LoweredGrad slice(const Tensor &dy, int dim, int start, int length,
                  const std::string &name = "slice");

/// Softmax(dim) backward from its result y: y * (dy - sum(dy * y)); with
/// `log`, LogSoftmax's dy - exp(y) * sum(dy). The sum along dim is
/// `stored[0]`.
LoweredGrad softmaxGrad(const Tensor &y, const Tensor &dy, int dim, bool log,
                        const std::string &name = "softmax_grad");

/// pad2d backward: dx of `inputShape` from dy (the padded shape); each
/// input pixel sums dy of every padded position that copies it. Zeros: a
/// pure crop. Other modes: folded along x into `stored[0]` (rows of the
/// padded height), then along y; replicate sums the border strips.
LoweredGrad pad2dGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                      const cnn::shape::Pad2dArgs &args,
                      const std::string &name = "pad2d_grad");

/// AdaptiveAvgPool2d backward: dx of `inputShape` from dy [N, C, oh, ow];
/// each input pixel gathers dy / window size of the (possibly several,
/// overlapping) windows covering it. rdom (jx, jy) over the most windows
/// covering one input column / row; windows that tile the input (a global
/// pool) leave one per pixel: then no rdom and no `accum`, a broadcast.
LoweredGrad
adaptiveAvgPool2dGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                      const std::string &name = "adaptive_avgpool2d_grad");

// --- batch normalisation ---------------------------------------------------

/// dx of batchnorm2d from its input x and dy [N, C, H, W], weight and the
/// running statistics [C]. Training mode (`batchStats`, x's statistics):
/// with M = N*H*W, xhat = (x - mean) * invstd,
///   dx = weight * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat));
/// `stored` holds the per-channel sums sum(dy) and sum(dy * xhat), each
/// f(c) = 0 then one update over `rdom` (x, y, n). Eval mode (`batchStats`
/// null): dx = dy * weight / sqrt(running_var + eps), element-wise.
LoweredGrad batchNorm2dInputGrad(const Tensor &input, const Tensor &dy,
                                 const Tensor &weight,
                                 const Tensor &runningMean,
                                 const Tensor &runningVar, double eps,
                                 const ChannelStats *batchStats,
                                 const Halide::Expr &batch,
                                 const std::string &name = "batchnorm2d_dx");

/// d weight [C] of batchnorm2d: sum over (n, y, x) of dy * xhat, xhat
/// normalised with the batch statistics (`batchStats`) or the running
/// ones. `accum` reduces over rdom (x, y, n). (The bias gradient is
/// biasGrad of dy.)
LoweredGrad batchNorm2dWeightGrad(const Tensor &input, const Tensor &dy,
                                  const Tensor &runningMean,
                                  const Tensor &runningVar, double eps,
                                  const ChannelStats *batchStats,
                                  const Halide::Expr &batch,
                                  const std::string &name = "batchnorm2d_dw");

/// PyTorch's running-statistics update of a training-mode BatchNorm2d:
///   running_mean' = (1 - momentum) * running_mean + momentum * mean
///   running_var'  = (1 - momentum) * running_var
///                   + momentum * var * M / (M - 1)   (unbiased)
/// `output` is running_mean', `extraOutputs[0]` running_var'. With M = 1
/// the unbiased variance is inf or NaN (PyTorch refuses such a batch; the
/// generated library's train step does too).
LoweredGrad batchNorm2dStatsUpdate(const Tensor &runningMean,
                                   const Tensor &runningVar,
                                   const ChannelStats &batchStats,
                                   double momentum,
                                   const std::string &name = "bn_update");

// --- optimizer ------------------------------------------------------------

/// Hyper-parameters of SGD, as run-time values: lr is a Param<float> (the
/// schedule of the learning rate changes it between steps without a
/// recompile); the others may be Params or constants.
struct SgdHyper {
  Halide::Param<float> lr;
  Halide::Expr momentum = 0.0f;    // mu
  Halide::Expr weightDecay = 0.0f; // wd
  /// true (or a non-zero int) on the first step: the momentum buffer is
  /// then initialised to the gradient, as PyTorch does when it has none.
  /// The velocity buffer is still read then (its content is ignored: pass
  /// the zero-initialised or any buffer of the right shape).
  Halide::Expr firstStep = false;
  Halide::Expr nesterov = false; // a run-time flag, like the others
};

/// PyTorch torch.optim.SGD (dampening 0, maximize false), one step:
///   g' = g + wd * p
///   momentum != 0:  v' = firstStep ? g' : mu * v + g'
///                   g'' = nesterov ? g' + mu * v' : v'
///   momentum == 0:  g'' = g'  (v' = v, unchanged)
///   p' = p - lr * g''
/// `momentum != 0` and nesterov are tested at run time (selects). `param`,
/// `grad` and `velocity` have the same (static) shape. `output` is p',
/// `extraOutputs[0]` is v' (only with a `velocity`; without one the momentum is
/// ignored: plain SGD with weight decay).
LoweredGrad sgdUpdate(const Tensor &param, const Tensor &grad,
                      const Tensor *velocity, const SgdHyper &hyper,
                      const std::string &name = "sgd");

} // namespace cnnc::hl

#endif // CNNC_HALIDE_GRADIENTS_H
