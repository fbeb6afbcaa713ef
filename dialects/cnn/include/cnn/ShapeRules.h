// Shape rules of the cnn ops as free functions over plain shapes.
//
// They are the single source of truth for output shapes and for the validity
// of layer arguments: op verifiers (through InferTypeOpInterface), the YAML
// importer and `cnnc summary` all call them. They depend on nothing but the
// standard library so that every caller can use them.
#ifndef CNN_SHAPERULES_H
#define CNN_SHAPERULES_H

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cnn::shape {

/// A dimension unknown until run time (the batch). Equal to MLIR 14's
/// ShapedType::kDynamicSize.
constexpr int64_t kDynamic = -1;

using Shape = std::vector<int64_t>;
using Pair = std::array<int64_t, 2>; // [h, w]

/// Either an inferred shape or a message saying what is wrong.
struct ShapeResult {
  Shape shape;
  std::string error;

  bool ok() const { return error.empty(); }
  static ShapeResult success(Shape s) { return {std::move(s), {}}; }
  static ShapeResult failure(std::string message) {
    return {{}, std::move(message)};
  }
};

struct Conv2dArgs {
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair dilation{1, 1};
  int64_t groups = 1;
};

struct Pool2dArgs {
  Pool2dArgs() = default;
  /// The window; floor mode and the usual divisor.
  Pool2dArgs(Pair kernel, Pair stride, Pair padding, Pair dilation)
      : kernel(kernel), stride(stride), padding(padding), dilation(dilation) {}

  Pair kernel{1, 1};
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair dilation{1, 1};
  /// PyTorch's ceil_mode: the output size rounds up, keeping only windows
  /// that start inside the input or its left padding.
  bool ceilMode = false;
  /// avgpool2d's divisor_override: every window divides by it (nonzero).
  std::optional<int64_t> divisorOverride;
};

/// How pad2d fills the border: conv2d's padding_mode names (PyTorch's
/// F.pad modes 'constant' 0, 'reflect', 'replicate', 'circular').
enum class PadMode { Zeros, Reflect, Replicate, Circular };

/// The mode named `name` ("zeros", "reflect", ...), or none.
std::optional<PadMode> padModeNamed(const std::string &name);
const char *padModeName(PadMode mode);
/// Every mode's name, in PadMode order.
std::vector<std::string> padModeNames();

struct Pad2dArgs {
  Pair begin{0, 0}; // [top, left]
  Pair end{0, 0};   // [bottom, right]
  PadMode mode = PadMode::Zeros;
};

/// PyTorch's padding='same' of a stride-1 convolution: d(k - 1) in all
/// along each axis, the odd one at the end ([begin, end] per axis).
Pad2dArgs samePadding(Pair kernel, Pair dilation);

/// The lecture's output size, generalised by dilation:
/// floor((in + 2p - d(k - 1) - 1) / s) + 1. Returns kDynamic for a dynamic
/// input and a value < 1 when the (dilated) kernel does not fit.
int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation);
/// A pool's output size: convOutputSize, or with ceil_mode PyTorch's
/// ceil((in + 2p - d(k - 1) - 1) / s) + 1, less one when the last window
/// would start at or past the input plus its left padding.
int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation, bool ceilMode);

/// Whether a pool's windows read outside its input: padding, or a ceil_mode
/// window reaching past the bottom or right edge. Such a pool reads a
/// padded copy of its input.
bool poolReadsOutside(const Shape &input, const Pool2dArgs &args);

/// Weight shape of a convolution: [out, in / groups, kH, kW].
Shape conv2dWeightShape(int64_t inChannels, int64_t outChannels, Pair kernel,
                        int64_t groups);

ShapeResult conv2d(const Shape &input, const Shape &weight,
                   const std::optional<Shape> &bias, const Conv2dArgs &args);
ShapeResult linear(const Shape &input, const Shape &weight,
                   const std::optional<Shape> &bias);
ShapeResult elementwise(const Shape &input);
/// Element-wise activations with arguments, whose gradients are read from
/// their results: the arguments must keep y's sign (or range) telling where
/// x lay. leaky_relu: negative_slope >= 0; elu: alpha >= 0; hardtanh:
/// min_val < max_val. All finite.
ShapeResult leakyRelu(const Shape &input, double negativeSlope);
ShapeResult elu(const Shape &input, double alpha);
ShapeResult hardtanh(const Shape &input, double minVal, double maxVal);
/// dropout: 0 <= p <= 1; channelwise (dropout2d) takes [N, C, H, W].
ShapeResult dropout(const Shape &input, double p, bool channelwise);
/// GELU: approximate is "none" or "tanh".
ShapeResult gelu(const Shape &input, const std::string &approximate);
ShapeResult maxPool2d(const Shape &input, const Pool2dArgs &args);
ShapeResult avgPool2d(const Shape &input, const Pool2dArgs &args);
ShapeResult adaptiveAvgPool2d(const Shape &input, Pair outputSize);
/// cat: two or more inputs of one rank, equal but along `dim` (1 .. rank -
/// 1), which the result sums.
ShapeResult cat(const std::vector<Shape> &inputs, int64_t dim);
/// softmax and log_softmax along `dim`: 1 .. rank - 1 (not the batch).
ShapeResult softmax(const Shape &input, int64_t dim);
ShapeResult adaptiveMaxPool2d(const Shape &input, Pair outputSize);
ShapeResult flatten(const Shape &input);
/// fill: a static shape (every dimension at least 1).
ShapeResult fill(const Shape &shape);
/// pad2d: [N, C, H, W] -> [N, C, H + top + bottom, W + left + right]. As
/// PyTorch: reflect pads less than the input size, circular at most it.
ShapeResult pad2d(const Shape &input, const Pad2dArgs &args);
/// x + y: both operands of one shape (no broadcasting), which the result has.
ShapeResult add(const Shape &lhs, const Shape &rhs);
/// Operands with one value per channel, by name ("weight", "running_var").
using ChannelOperands = std::vector<std::pair<std::string, Shape>>;
/// BatchNorm2d: input [N, C, H, W]; each of `perChannel` (weight, bias,
/// running_mean, running_var) [C].
ShapeResult batchNorm2d(const Shape &input, const ChannelOperands &perChannel);

// Training: the loss and the gradient ops. Each checks that its operands
// are consistent with the forward op it differentiates.
ShapeResult crossEntropy(const Shape &logits, const Shape &labels);
ShapeResult crossEntropyGrad(const Shape &logits, const Shape &labels);
ShapeResult conv2dInputGrad(const Shape &grad, const Shape &weight,
                            const Conv2dArgs &args, Pair inputSize);
ShapeResult conv2dWeightGrad(const Shape &input, const Shape &grad,
                             const Conv2dArgs &args, Pair kernel);
ShapeResult biasGrad(const Shape &grad);
ShapeResult linearInputGrad(const Shape &grad, const Shape &weight);
ShapeResult linearWeightGrad(const Shape &input, const Shape &grad);
ShapeResult elementwiseGrad(const Shape &value, const Shape &grad);
/// slice: `length` elements of `input` from `start` along `dim`.
ShapeResult slice(const Shape &input, int64_t dim, int64_t start,
                  int64_t length);
ShapeResult softmaxGrad(const Shape &value, const Shape &grad, int64_t dim);
ShapeResult maxPool2dGrad(const Shape &input, const Shape &grad,
                          const Pool2dArgs &args);
ShapeResult avgPool2dGrad(const Shape &grad, const Pool2dArgs &args,
                          Pair inputSize);
ShapeResult adaptiveAvgPool2dGrad(const Shape &grad, Pair inputSize);
ShapeResult adaptiveMaxPool2dGrad(const Shape &input, const Shape &grad);
ShapeResult pad2dGrad(const Shape &grad, const Pad2dArgs &args, Pair inputSize);
ShapeResult unflatten(const Shape &input, const Shape &sampleShape);
/// dx of batchnorm2d: input and grad [N, C, H, W], `perChannel` [C] each.
ShapeResult batchNorm2dInputGrad(const Shape &input, const Shape &grad,
                                 const ChannelOperands &perChannel);
/// d weight of batchnorm2d: [C] from input and grad [N, C, H, W].
ShapeResult batchNorm2dWeightGrad(const Shape &input, const Shape &grad,
                                  const ChannelOperands &perChannel);

/// Equal up to dynamic dimensions (a '?' matches any size).
bool compatible(const Shape &a, const Shape &b);

/// "[?, 3, 32, 32]" — how shapes appear in messages.
std::string format(const Shape &shape);

} // namespace cnn::shape

#endif // CNN_SHAPERULES_H
