#include "cnn/ShapeRules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace cnn::shape {
namespace {

std::string pairText(Pair p) {
  return "[" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + "]";
}

/// Checks that every entry of a [h, w] argument is at least `min`.
std::optional<std::string> checkPair(const char *what, Pair p, int64_t min) {
  if (p[0] >= min && p[1] >= min)
    return std::nullopt;
  return std::string(what) + " must be " +
         (min == 0 ? "non-negative" : "at least " + std::to_string(min)) +
         ", got " + pairText(p);
}

std::optional<std::string> checkRank(const char *what, const Shape &s,
                                     size_t rank) {
  if (s.size() == rank)
    return std::nullopt;
  return std::string(what) + " must have rank " + std::to_string(rank) +
         " but has shape " + format(s);
}

/// Spatial output size of a sliding window, or an error naming the axis.
ShapeResult windowOutput(const Shape &input, Pair kernel, Pair stride,
                         Pair padding, Pair dilation, const char *kernelName,
                         bool ceilMode = false) {
  Shape out = input;
  const char *axis[2] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    int64_t in = input[2 + i];
    if (in == kDynamic)
      continue;
    int64_t padded = in + 2 * padding[i];
    int64_t span = dilation[i] * (kernel[i] - 1) + 1;
    if (span > padded) {
      std::ostringstream os;
      os << kernelName << " " << axis[i] << " " << kernel[i];
      if (dilation[i] != 1)
        os << " (dilated to " << span << ")";
      os << " is larger than the padded input " << axis[i] << " " << padded
         << " (input " << in << " + 2 * padding " << padding[i] << ")";
      return ShapeResult::failure(os.str());
    }
    out[2 + i] = poolOutputSize(in, kernel[i], stride[i], padding[i],
                                dilation[i], ceilMode);
  }
  return ShapeResult::success(out);
}

std::optional<std::string> checkWindowArgs(Pair kernel, Pair stride,
                                           Pair padding, Pair dilation) {
  if (auto e = checkPair("kernel_size", kernel, 1))
    return e;
  if (auto e = checkPair("stride", stride, 1))
    return e;
  if (auto e = checkPair("padding", padding, 0))
    return e;
  return checkPair("dilation", dilation, 1);
}

} // namespace

int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation) {
  if (in == kDynamic)
    return kDynamic;
  int64_t numerator = in + 2 * padding - dilation * (kernel - 1) - 1;
  if (numerator < 0)
    return 0;
  return numerator / stride + 1;
}

std::optional<PadMode> padModeNamed(const std::string &name) {
  for (PadMode mode : {PadMode::Zeros, PadMode::Reflect, PadMode::Replicate,
                       PadMode::Circular})
    if (name == padModeName(mode))
      return mode;
  return std::nullopt;
}

const char *padModeName(PadMode mode) {
  switch (mode) {
  case PadMode::Zeros:
    return "zeros";
  case PadMode::Reflect:
    return "reflect";
  case PadMode::Replicate:
    return "replicate";
  case PadMode::Circular:
    return "circular";
  }
  return "?";
}

std::vector<std::string> padModeNames() {
  return {"zeros", "reflect", "replicate", "circular"};
}

Pad2dArgs samePadding(Pair kernel, Pair dilation) {
  Pad2dArgs args;
  for (int i = 0; i < 2; ++i) {
    const int64_t total = dilation[i] * (kernel[i] - 1);
    args.begin[i] = total / 2;
    args.end[i] = total - total / 2;
  }
  return args;
}

int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding, int64_t dilation, bool ceilMode) {
  if (!ceilMode || in == kDynamic)
    return convOutputSize(in, kernel, stride, padding, dilation);
  int64_t numerator = in + 2 * padding - dilation * (kernel - 1) - 1;
  if (numerator < 0)
    return 0;
  int64_t out = (numerator + stride - 1) / stride + 1;
  if ((out - 1) * stride >= in + padding)
    --out;
  return out;
}

bool poolReadsOutside(const Shape &input, const Pool2dArgs &args) {
  for (int i = 0; i < 2; ++i) {
    if (args.padding[i] > 0)
      return true;
    const int64_t in = input[2 + i];
    const int64_t out = poolOutputSize(in, args.kernel[i], args.stride[i], 0,
                                       args.dilation[i], args.ceilMode);
    if (in != kDynamic &&
        (out - 1) * args.stride[i] + (args.kernel[i] - 1) * args.dilation[i] >=
            in)
      return true;
  }
  return false;
}

Shape conv2dWeightShape(int64_t inChannels, int64_t outChannels, Pair kernel,
                        int64_t groups) {
  return {outChannels, groups > 0 ? inChannels / groups : inChannels, kernel[0],
          kernel[1]};
}

ShapeResult conv2d(const Shape &input, const Shape &weight,
                   const std::optional<Shape> &bias, const Conv2dArgs &args) {
  if (auto e = checkRank("conv2d input", input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkRank("conv2d weight", weight, 4))
    return ShapeResult::failure(*e);
  if (args.groups < 1)
    return ShapeResult::failure("groups must be at least 1, got " +
                                std::to_string(args.groups));
  Pair kernel{weight[2], weight[3]};
  if (auto e =
          checkWindowArgs(kernel, args.stride, args.padding, args.dilation))
    return ShapeResult::failure(*e);
  int64_t inChannels = input[1], outChannels = weight[0];
  if (outChannels < 1)
    return ShapeResult::failure("out_channels must be at least 1, got " +
                                std::to_string(outChannels));
  if (inChannels != kDynamic) {
    if (inChannels % args.groups != 0)
      return ShapeResult::failure("in_channels " + std::to_string(inChannels) +
                                  " is not divisible by groups " +
                                  std::to_string(args.groups));
    if (weight[1] * args.groups != inChannels)
      return ShapeResult::failure("weight shape " + format(weight) +
                                  " expects " +
                                  std::to_string(weight[1] * args.groups) +
                                  " input channels but the "
                                  "input has " +
                                  std::to_string(inChannels));
  }
  if (outChannels % args.groups != 0)
    return ShapeResult::failure("out_channels " + std::to_string(outChannels) +
                                " is not divisible by groups " +
                                std::to_string(args.groups));
  if (bias && *bias != Shape{outChannels})
    return ShapeResult::failure("bias must have shape [" +
                                std::to_string(outChannels) + "] but has " +
                                format(*bias));
  ShapeResult r = windowOutput(input, kernel, args.stride, args.padding,
                               args.dilation, "kernel");
  if (!r.ok())
    return r;
  r.shape[1] = outChannels;
  return r;
}

ShapeResult linear(const Shape &input, const Shape &weight,
                   const std::optional<Shape> &bias) {
  if (auto e = checkRank("linear input", input, 2))
    return ShapeResult::failure(*e + " (insert a flatten layer before it)");
  if (auto e = checkRank("linear weight", weight, 2))
    return ShapeResult::failure(*e);
  if (weight[0] < 1)
    return ShapeResult::failure("out_features must be at least 1, got " +
                                std::to_string(weight[0]));
  if (input[1] != kDynamic && input[1] != weight[1])
    return ShapeResult::failure("weight shape " + format(weight) + " expects " +
                                std::to_string(weight[1]) +
                                " input features but the input has " +
                                std::to_string(input[1]));
  if (bias && *bias != Shape{weight[0]})
    return ShapeResult::failure("bias must have shape [" +
                                std::to_string(weight[0]) + "] but has " +
                                format(*bias));
  return ShapeResult::success({input[0], weight[0]});
}

ShapeResult elementwise(const Shape &input) {
  return ShapeResult::success(input);
}

namespace {
/// A number in a message, as the importer and the runtime write them (%g).
std::string formatReal(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}
} // namespace

namespace {
/// An argument that must keep the activation monotonic (increasing), so
/// that its gradient can be read from its result.
ShapeResult nonNegative(const Shape &input, const char *name, double value,
                        const char *torchName) {
  if (!(value >= 0) || !std::isfinite(value))
    return ShapeResult::failure(
        std::string(name) +
        " must be a finite number >= 0 (the gradient is read from the "
        "result, as PyTorch's in-place " +
        torchName + " does), got " + formatReal(value));
  return ShapeResult::success(input);
}
} // namespace

ShapeResult leakyRelu(const Shape &input, double negativeSlope) {
  return nonNegative(input, "negative_slope", negativeSlope, "LeakyReLU");
}

ShapeResult elu(const Shape &input, double alpha) {
  return nonNegative(input, "alpha", alpha, "ELU");
}

ShapeResult hardtanh(const Shape &input, double minVal, double maxVal) {
  if (!std::isfinite(minVal) || !std::isfinite(maxVal) || !(minVal < maxVal))
    return ShapeResult::failure("min_val must be below max_val, got " +
                                formatReal(minVal) + " and " +
                                formatReal(maxVal));
  return ShapeResult::success(input);
}

ShapeResult dropout(const Shape &input, double p, bool channelwise) {
  if (!(p >= 0.0 && p <= 1.0))
    return ShapeResult::failure(
        "dropout probability has to be between 0 and 1, but got " +
        formatReal(p));
  if (channelwise && input.size() != 4)
    return ShapeResult::failure("dropout2d takes [N, C, H, W] but the input "
                                "has shape " +
                                format(input) +
                                "; use dropout for element-wise masks");
  return ShapeResult::success(input);
}

ShapeResult gelu(const Shape &input, const std::string &approximate) {
  if (approximate != "none" && approximate != "tanh")
    return ShapeResult::failure("approximate must be 'none' or 'tanh', got '" +
                                approximate + "'");
  return ShapeResult::success(input);
}

ShapeResult add(const Shape &lhs, const Shape &rhs) {
  if (!compatible(lhs, rhs))
    return ShapeResult::failure("operand shapes differ: " + format(lhs) +
                                " and " + format(rhs));
  // A dimension known on one side only (the batch is '?' on both) is known.
  Shape result = lhs;
  for (size_t i = 0; i < result.size(); ++i)
    if (result[i] == kDynamic)
      result[i] = rhs[i];
  return ShapeResult::success(result);
}

ShapeResult maxPool2d(const Shape &input, const Pool2dArgs &args) {
  if (auto e = checkRank("maxpool2d input", input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkWindowArgs(args.kernel, args.stride, args.padding,
                               args.dilation))
    return ShapeResult::failure(*e);
  // PyTorch: "pad should be at most half of effective kernel size".
  for (int i = 0; i < 2; ++i)
    if (2 * args.padding[i] > args.dilation[i] * (args.kernel[i] - 1) + 1)
      return ShapeResult::failure("padding " + pairText(args.padding) +
                                  " must be at most half of the kernel size " +
                                  pairText(args.kernel));
  if (args.divisorOverride)
    return ShapeResult::failure("maxpool2d has no divisor_override");
  return windowOutput(input, args.kernel, args.stride, args.padding,
                      args.dilation, "pooling window", args.ceilMode);
}

ShapeResult avgPool2d(const Shape &input, const Pool2dArgs &args) {
  if (auto e = checkRank("avgpool2d input", input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkWindowArgs(args.kernel, args.stride, args.padding,
                               args.dilation))
    return ShapeResult::failure(*e);
  if (args.dilation != Pair{1, 1})
    return ShapeResult::failure("avgpool2d has no dilation");
  for (int i = 0; i < 2; ++i)
    if (2 * args.padding[i] > args.kernel[i])
      return ShapeResult::failure("padding " + pairText(args.padding) +
                                  " must be at most half of the kernel size " +
                                  pairText(args.kernel));
  if (args.divisorOverride && *args.divisorOverride < 1)
    return ShapeResult::failure("divisor_override must be at least 1, got " +
                                std::to_string(*args.divisorOverride));
  return windowOutput(input, args.kernel, args.stride, args.padding,
                      args.dilation, "pooling window", args.ceilMode);
}

namespace {
ShapeResult adaptivePool2d(const char *what, const Shape &input,
                           Pair outputSize) {
  if (auto e = checkRank(what, input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkPair("output_size", outputSize, 1))
    return ShapeResult::failure(*e);
  return ShapeResult::success(
      {input[0], input[1], outputSize[0], outputSize[1]});
}
} // namespace

ShapeResult adaptiveAvgPool2d(const Shape &input, Pair outputSize) {
  return adaptivePool2d("adaptive_avgpool2d input", input, outputSize);
}

ShapeResult cat(const std::vector<Shape> &inputs, int64_t dim) {
  if (inputs.size() < 2)
    return ShapeResult::failure("cat needs two or more inputs, got " +
                                std::to_string(inputs.size()));
  const Shape &first = inputs[0];
  if (dim < 1 || dim >= int64_t(first.size()))
    return ShapeResult::failure(
        "dim must be between 1 and " + std::to_string(first.size() - 1) +
        " for inputs of shape " + format(first) + " (dim 0 is the batch), " +
        "got " + std::to_string(dim));
  Shape out = first;
  for (size_t i = 1; i < inputs.size(); ++i) {
    const Shape &s = inputs[i];
    bool agree = s.size() == first.size();
    for (size_t d = 0; agree && d < s.size(); ++d)
      agree = int64_t(d) == dim ||
              (d == 0 ? compatible({s[d]}, {first[d]}) : s[d] == first[d]);
    if (!agree)
      return ShapeResult::failure(
          "input " + std::to_string(i + 1) + " has shape " + format(s) +
          " but input 1 has " + format(first) +
          ": they may differ only in dim " + std::to_string(dim));
    const size_t at = size_t(dim);
    out[at] =
        out[at] == kDynamic || s[at] == kDynamic ? kDynamic : out[at] + s[at];
  }
  return ShapeResult::success(out);
}

ShapeResult slice(const Shape &input, int64_t dim, int64_t start,
                  int64_t length) {
  if (dim < 1 || dim >= int64_t(input.size()))
    return ShapeResult::failure("slice dim " + std::to_string(dim) +
                                " is not a dimension of " + format(input) +
                                " after the batch");
  if (start < 0 || length < 1 || start + length > input[size_t(dim)])
    return ShapeResult::failure("slice [" + std::to_string(start) + ", " +
                                std::to_string(start + length) +
                                ") is outside dim " + std::to_string(dim) +
                                " of " + format(input));
  Shape out = input;
  out[size_t(dim)] = length;
  return ShapeResult::success(out);
}

ShapeResult softmax(const Shape &input, int64_t dim) {
  if (input.size() < 2)
    return ShapeResult::failure("softmax input must have rank 2 or more but "
                                "has shape " +
                                format(input));
  if (dim < 1 || dim >= int64_t(input.size()))
    return ShapeResult::failure("dim must be between 1 and " +
                                std::to_string(input.size() - 1) +
                                " for an input of shape " + format(input) +
                                " (dim 0 is the batch), "
                                "got " +
                                std::to_string(dim));
  return ShapeResult::success(input);
}

ShapeResult adaptiveMaxPool2d(const Shape &input, Pair outputSize) {
  return adaptivePool2d("adaptive_maxpool2d input", input, outputSize);
}

ShapeResult pad2d(const Shape &input, const Pad2dArgs &args) {
  if (auto e = checkRank("pad2d input", input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkPair("padding", args.begin, 0))
    return ShapeResult::failure(*e);
  if (auto e = checkPair("padding", args.end, 0))
    return ShapeResult::failure(*e);
  Shape out = input;
  const char *axis[2] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    const int64_t in = input[2 + i];
    if (in == kDynamic)
      continue;
    const int64_t most = std::max(args.begin[i], args.end[i]);
    std::string limit;
    if (args.mode == PadMode::Reflect && most >= in)
      limit = "less than";
    else if (args.mode == PadMode::Circular && most > in)
      limit = "at most";
    if (!limit.empty())
      return ShapeResult::failure(std::string(padModeName(args.mode)) +
                                  " padding " + std::to_string(most) +
                                  " must be " + limit + " the input " +
                                  axis[i] + " " + std::to_string(in));
    out[2 + i] = in + args.begin[i] + args.end[i];
  }
  return ShapeResult::success(out);
}

ShapeResult fill(const Shape &shape) {
  for (int64_t d : shape)
    if (d < 1)
      return ShapeResult::failure("fill needs a static shape, got " +
                                  format(shape));
  return ShapeResult::success(shape);
}

ShapeResult flatten(const Shape &input) {
  if (input.size() < 2)
    return ShapeResult::failure("flatten input must have rank 2 or more but "
                                "has shape " +
                                format(input));
  int64_t features = 1;
  for (size_t i = 1; i < input.size(); ++i) {
    if (input[i] == kDynamic) {
      features = kDynamic;
      break;
    }
    features *= input[i];
  }
  return ShapeResult::success({input[0], features});
}

ShapeResult batchNorm2d(const Shape &input, const ChannelOperands &perChannel) {
  if (auto e = checkRank("batchnorm2d input", input, 4))
    return ShapeResult::failure(*e + " (batchnorm2d normalises the channels "
                                     "of an [N, C, H, W] activation)");
  for (const auto &[name, shape] : perChannel) {
    if (shape.size() == 1 && compatible(shape, {input[1]}))
      continue;
    return ShapeResult::failure(
        name + " must have shape [" +
        (input[1] == kDynamic ? "C" : std::to_string(input[1])) +
        "] (one value per input channel) but has " + format(shape));
  }
  return ShapeResult::success(input);
}

bool compatible(const Shape &a, const Shape &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && a[i] != kDynamic && b[i] != kDynamic)
      return false;
  return true;
}

namespace {
/// The shape of a gradient's result: the batch and channels of `grad`, the
/// forward input's height and width.
Shape withSpatialSize(const Shape &grad, Pair inputSize) {
  return {grad[0], grad[1], inputSize[0], inputSize[1]};
}

/// A gradient op's input_size: a real height and width.
std::optional<ShapeResult> badInputSize(Pair inputSize) {
  if (auto e = checkPair("input_size", inputSize, 1))
    return ShapeResult::failure(*e);
  return std::nullopt;
}

/// The gradient must have the shape the forward op produces.
ShapeResult expectGrad(const ShapeResult &forward, const Shape &grad,
                       const Shape &result, const char *op) {
  if (!forward.ok())
    return forward;
  if (!compatible(forward.shape, grad))
    return ShapeResult::failure(std::string(op) + " gradient has shape " +
                                format(grad) + " but the forward result is " +
                                format(forward.shape));
  return ShapeResult::success(result);
}
} // namespace

ShapeResult crossEntropy(const Shape &logits, const Shape &labels) {
  if (auto e = checkRank("cross_entropy logits", logits, 2))
    return ShapeResult::failure(*e);
  if (auto e = checkRank("cross_entropy labels", labels, 1))
    return ShapeResult::failure(*e);
  if (!compatible({logits[0]}, labels))
    return ShapeResult::failure("labels " + format(labels) +
                                " do not match the batch of logits " +
                                format(logits));
  return ShapeResult::success({});
}

ShapeResult crossEntropyGrad(const Shape &logits, const Shape &labels) {
  ShapeResult r = crossEntropy(logits, labels);
  if (!r.ok())
    return r;
  return ShapeResult::success(logits);
}

ShapeResult conv2dInputGrad(const Shape &grad, const Shape &weight,
                            const Conv2dArgs &args, Pair inputSize) {
  if (auto e = checkRank("conv2d_input_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkRank("conv2d_input_grad weight", weight, 4))
    return ShapeResult::failure(*e);
  Shape input{grad[0], weight[1] * args.groups, inputSize[0], inputSize[1]};
  return expectGrad(conv2d(input, weight, std::nullopt, args), grad, input,
                    "conv2d");
}

ShapeResult conv2dWeightGrad(const Shape &input, const Shape &grad,
                             const Conv2dArgs &args, Pair kernel) {
  if (auto e = checkRank("conv2d_weight_grad input", input, 4))
    return ShapeResult::failure(*e);
  if (auto e = checkRank("conv2d_weight_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  if (args.groups < 1)
    return ShapeResult::failure("groups must be at least 1");
  Shape weight = conv2dWeightShape(input[1], grad[1], kernel, args.groups);
  return expectGrad(conv2d(input, weight, std::nullopt, args), grad, weight,
                    "conv2d");
}

ShapeResult biasGrad(const Shape &grad) {
  if (grad.size() < 2)
    return ShapeResult::failure("bias_grad needs a gradient of rank 2 or more, "
                                "got " +
                                format(grad));
  return ShapeResult::success({grad[1]});
}

ShapeResult linearInputGrad(const Shape &grad, const Shape &weight) {
  if (auto e = checkRank("linear_input_grad weight", weight, 2))
    return ShapeResult::failure(*e);
  Shape input{grad.empty() ? kDynamic : grad[0], weight[1]};
  return expectGrad(linear(input, weight, std::nullopt), grad, input, "linear");
}

ShapeResult linearWeightGrad(const Shape &input, const Shape &grad) {
  if (auto e = checkRank("linear_weight_grad input", input, 2))
    return ShapeResult::failure(*e);
  if (auto e = checkRank("linear_weight_grad grad", grad, 2))
    return ShapeResult::failure(*e);
  Shape weight{grad[1], input[1]};
  return expectGrad(linear(input, weight, std::nullopt), grad, weight,
                    "linear");
}

ShapeResult elementwiseGrad(const Shape &value, const Shape &grad) {
  if (!compatible(value, grad))
    return ShapeResult::failure("gradient " + format(grad) +
                                " does not match the value " + format(value));
  return ShapeResult::success(grad);
}

ShapeResult softmaxGrad(const Shape &value, const Shape &grad, int64_t dim) {
  ShapeResult forward = softmax(value, dim);
  if (!forward.ok())
    return forward;
  return elementwiseGrad(value, grad);
}

ShapeResult maxPool2dGrad(const Shape &input, const Shape &grad,
                          const Pool2dArgs &args) {
  return expectGrad(maxPool2d(input, args), grad, input, "maxpool2d");
}

ShapeResult avgPool2dGrad(const Shape &grad, const Pool2dArgs &args,
                          Pair inputSize) {
  if (auto e = checkRank("avgpool2d_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  if (auto e = badInputSize(inputSize))
    return *e;
  const Shape input = withSpatialSize(grad, inputSize);
  return expectGrad(avgPool2d(input, args), grad, input, "avgpool2d");
}

ShapeResult pad2dGrad(const Shape &grad, const Pad2dArgs &args,
                      Pair inputSize) {
  if (auto e = checkRank("pad2d_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  if (auto e = badInputSize(inputSize))
    return *e;
  const Shape input = withSpatialSize(grad, inputSize);
  return expectGrad(pad2d(input, args), grad, input, "pad2d");
}

ShapeResult adaptiveMaxPool2dGrad(const Shape &input, const Shape &grad) {
  if (auto e = checkRank("adaptive_maxpool2d_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  return expectGrad(adaptiveMaxPool2d(input, {grad[2], grad[3]}), grad, input,
                    "adaptive_maxpool2d");
}

ShapeResult adaptiveAvgPool2dGrad(const Shape &grad, Pair inputSize) {
  if (auto e = checkRank("adaptive_avgpool2d_grad grad", grad, 4))
    return ShapeResult::failure(*e);
  if (auto e = badInputSize(inputSize))
    return *e;
  const Shape input = withSpatialSize(grad, inputSize);
  return expectGrad(adaptiveAvgPool2d(input, {grad[2], grad[3]}), grad, input,
                    "adaptive_avgpool2d");
}

ShapeResult unflatten(const Shape &input, const Shape &sampleShape) {
  if (auto e = checkRank("unflatten input", input, 2))
    return ShapeResult::failure(*e);
  int64_t n = 1;
  for (int64_t d : sampleShape) {
    if (d < 1)
      return ShapeResult::failure("unflatten shape " + format(sampleShape) +
                                  " must be positive");
    n *= d;
  }
  if (input[1] != kDynamic && input[1] != n)
    return ShapeResult::failure("cannot unflatten " + format(input) + " to " +
                                format(sampleShape));
  Shape out{input[0]};
  out.insert(out.end(), sampleShape.begin(), sampleShape.end());
  return ShapeResult::success(out);
}

ShapeResult batchNorm2dInputGrad(const Shape &input, const Shape &grad,
                                 const ChannelOperands &perChannel) {
  return expectGrad(batchNorm2d(input, perChannel), grad, input, "batchnorm2d");
}

ShapeResult batchNorm2dWeightGrad(const Shape &input, const Shape &grad,
                                  const ChannelOperands &perChannel) {
  ShapeResult forward = batchNorm2d(input, perChannel);
  if (!forward.ok())
    return forward;
  return expectGrad(forward, grad, {input[1]}, "batchnorm2d");
}

std::string format(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += shape[i] == kDynamic ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

} // namespace cnn::shape
