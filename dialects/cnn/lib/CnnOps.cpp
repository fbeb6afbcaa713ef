// Result-type inference of the cnn ops. Each op adapts its operands and
// attributes to a free shape rule (ShapeRules.h) and reports the rule's
// message at the op's location.
#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include "cnn/CnnInterfaces.cpp.inc"

using namespace mlir;
namespace shp = cnn::shape;

namespace {

/// The shape of a ranked tensor type, or nullopt for unranked types (whose
/// results are then inferred as unranked).
Optional<shp::Shape> shapeOf(Type type) {
  auto ranked = type.dyn_cast<RankedTensorType>();
  if (!ranked)
    return llvm::None;
  return shp::Shape(ranked.getShape().begin(), ranked.getShape().end());
}

shp::Pair pairAttr(DictionaryAttr attrs, StringRef name, shp::Pair fallback) {
  auto array = attrs.getAs<ArrayAttr>(name);
  if (!array || array.size() != 2)
    return fallback;
  shp::Pair p = fallback;
  for (int i = 0; i < 2; ++i)
    if (auto v = array[i].dyn_cast<IntegerAttr>())
      p[i] = v.getInt();
  return p;
}

/// Turns a shape rule's answer into the inferred f32 tensor type, or emits its
/// message (prefixed with the op name) at `location`.
LogicalResult toInferredType(MLIRContext *context, Optional<Location> location,
                             StringRef opName, const shp::ShapeResult &result,
                             SmallVectorImpl<Type> &inferred) {
  if (!result.ok())
    return emitOptionalError(location, "'cnn.", opName, "' ", result.error);
  inferred.push_back(
      RankedTensorType::get(result.shape, FloatType::getF32(context)));
  return success();
}

void pushUnranked(MLIRContext *context, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(UnrankedTensorType::get(FloatType::getF32(context)));
}

/// Shared body of the ops whose only shaped operand is `input`.
template <typename Rule>
LogicalResult inferFromInput(MLIRContext *context, Optional<Location> location,
                             StringRef opName, ValueRange operands,
                             SmallVectorImpl<Type> &inferred, Rule rule) {
  auto input = shapeOf(operands[0].getType());
  if (!input) {
    pushUnranked(context, inferred);
    return success();
  }
  return toInferredType(context, location, opName, rule(*input), inferred);
}

} // namespace

bool cnn::isRefinableTo(TypeRange actual, TypeRange inferred) {
  if (actual.size() != inferred.size())
    return false;
  for (auto [a, i] : llvm::zip(actual, inferred)) {
    if (a == i)
      continue;
    auto at = a.dyn_cast<TensorType>(), it = i.dyn_cast<TensorType>();
    if (!at || !it || at.getElementType() != it.getElementType())
      return false;
    if (!at.hasRank())
      continue;
    if (!it.hasRank() || at.getRank() != it.getRank())
      return false;
    for (auto [ad, id] : llvm::zip(at.getShape(), it.getShape()))
      if (ad != ShapedType::kDynamicSize && ad != id)
        return false;
  }
  return true;
}

LogicalResult cnn::verifyParameter(ParameterOp op) {
  auto type = op.getType().dyn_cast<RankedTensorType>();
  if (!type || !type.hasStaticShape())
    return op.emitOpError("must have a static shape, got ") << op.getType();
  for (int64_t d : type.getShape())
    if (d < 1)
      return op.emitOpError("dimensions must be positive, got ") << type;
  if (op.getName().empty())
    return op.emitOpError("needs a non-empty name");
  if (op.getBuffer() && op.getFrozen())
    return op.emitOpError("is a buffer, which is never trained: {frozen} "
                          "does not apply");
  return success();
}

LogicalResult cnn::Conv2dOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr attributes, RegionRange, SmallVectorImpl<Type> &inferred) {
  auto input = shapeOf(operands[0].getType());
  auto weight = shapeOf(operands[1].getType());
  Optional<shp::Shape> bias;
  if (operands.size() > 2) {
    bias = shapeOf(operands[2].getType());
    if (!bias)
      return emitOptionalError(location, "'cnn.conv2d' bias must be ranked");
  }
  if (!input || !weight) {
    pushUnranked(context, inferred);
    return success();
  }
  shp::Conv2dArgs args;
  args.stride = pairAttr(attributes, "stride", {1, 1});
  args.padding = pairAttr(attributes, "padding", {0, 0});
  args.dilation = pairAttr(attributes, "dilation", {1, 1});
  if (auto groups = attributes.getAs<IntegerAttr>("groups"))
    args.groups = groups.getInt();
  std::optional<shp::Shape> biasShape;
  if (bias)
    biasShape = *bias;
  return toInferredType(context, location, "conv2d",
                        shp::conv2d(*input, *weight, biasShape, args),
                        inferred);
}

LogicalResult cnn::LinearOp::inferReturnTypes(MLIRContext *context,
                                              Optional<Location> location,
                                              ValueRange operands,
                                              DictionaryAttr, RegionRange,
                                              SmallVectorImpl<Type> &inferred) {
  auto input = shapeOf(operands[0].getType());
  auto weight = shapeOf(operands[1].getType());
  std::optional<shp::Shape> bias;
  if (operands.size() > 2) {
    auto b = shapeOf(operands[2].getType());
    if (!b)
      return emitOptionalError(location, "'cnn.linear' bias must be ranked");
    bias = *b;
  }
  if (!input || !weight) {
    pushUnranked(context, inferred);
    return success();
  }
  return toInferredType(context, location, "linear",
                        shp::linear(*input, *weight, bias), inferred);
}

#define CNN_ELEMENTWISE_INFERENCE(Op, name)                                    \
  LogicalResult cnn::Op::inferReturnTypes(                                     \
      MLIRContext *context, Optional<Location> location, ValueRange operands,  \
      DictionaryAttr, RegionRange, SmallVectorImpl<Type> &inferred) {          \
    return inferFromInput(context, location, name, operands, inferred,         \
                          shp::elementwise);                                   \
  }
CNN_ELEMENTWISE_INFERENCE(ReluOp, "relu")
CNN_ELEMENTWISE_INFERENCE(TanhOp, "tanh")
CNN_ELEMENTWISE_INFERENCE(SigmoidOp, "sigmoid")
#undef CNN_ELEMENTWISE_INFERENCE

namespace {
shp::Pool2dArgs poolArgs(DictionaryAttr attributes) {
  shp::Pool2dArgs args;
  args.kernel = pairAttr(attributes, "kernel_size", {1, 1});
  args.stride = pairAttr(attributes, "stride", args.kernel);
  args.padding = pairAttr(attributes, "padding", {0, 0});
  args.dilation = pairAttr(attributes, "dilation", {1, 1});
  return args;
}
} // namespace

LogicalResult cnn::MaxPool2dOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr attributes, RegionRange, SmallVectorImpl<Type> &inferred) {
  return inferFromInput(context, location, "maxpool2d", operands, inferred,
                        [&](const shp::Shape &input) {
                          return shp::maxPool2d(input, poolArgs(attributes));
                        });
}

LogicalResult cnn::AvgPool2dOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr attributes, RegionRange, SmallVectorImpl<Type> &inferred) {
  return inferFromInput(context, location, "avgpool2d", operands, inferred,
                        [&](const shp::Shape &input) {
                          return shp::avgPool2d(input, poolArgs(attributes));
                        });
}

LogicalResult cnn::AdaptiveAvgPool2dOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr attributes, RegionRange, SmallVectorImpl<Type> &inferred) {
  shp::Pair size = pairAttr(attributes, "output_size", {1, 1});
  return inferFromInput(context, location, "adaptive_avgpool2d", operands,
                        inferred, [&](const shp::Shape &input) {
                          return shp::adaptiveAvgPool2d(input, size);
                        });
}

LogicalResult cnn::AddOp::inferReturnTypes(MLIRContext *context,
                                           Optional<Location> location,
                                           ValueRange operands, DictionaryAttr,
                                           RegionRange,
                                           SmallVectorImpl<Type> &inferred) {
  auto lhs = shapeOf(operands[0].getType());
  auto rhs = shapeOf(operands[1].getType());
  if (!lhs || !rhs) {
    pushUnranked(context, inferred);
    return success();
  }
  return toInferredType(context, location, "add", shp::add(*lhs, *rhs),
                        inferred);
}

LogicalResult cnn::BatchNorm2dOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr, RegionRange, SmallVectorImpl<Type> &inferred) {
  return inferFromInput(
      context, location, "batchnorm2d", operands, inferred,
      [&](const shp::Shape &input) {
        shp::ChannelOperands perChannel;
        const char *names[] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 0; i < 4; ++i)
          if (auto shape = shapeOf(operands[1 + i].getType()))
            perChannel.push_back({names[i], *shape});
        return shp::batchNorm2d(input, perChannel);
      });
}

LogicalResult cnn::FlattenOp::inferReturnTypes(
    MLIRContext *context, Optional<Location> location, ValueRange operands,
    DictionaryAttr, RegionRange, SmallVectorImpl<Type> &inferred) {
  return inferFromInput(context, location, "flatten", operands, inferred,
                        shp::flatten);
}

//===----------------------------------------------------------------------===//
// Training ops
//===----------------------------------------------------------------------===//

namespace {
/// Shared body of ops whose rule needs every operand ranked (else the
/// result is unranked). Labels are ranked 1-D tensors of i64.
template <typename Rule>
LogicalResult inferFromAll(MLIRContext *context, Optional<Location> location,
                           StringRef opName, ValueRange operands,
                           SmallVectorImpl<Type> &inferred, Rule rule) {
  std::vector<shp::Shape> shapes;
  for (Value operand : operands) {
    auto shape = shapeOf(operand.getType());
    if (!shape) {
      pushUnranked(context, inferred);
      return success();
    }
    shapes.push_back(*shape);
  }
  return toInferredType(context, location, opName, rule(shapes), inferred);
}

shp::Conv2dArgs convArgs(DictionaryAttr attributes) {
  shp::Conv2dArgs args;
  args.stride = pairAttr(attributes, "stride", {1, 1});
  args.padding = pairAttr(attributes, "padding", {0, 0});
  args.dilation = pairAttr(attributes, "dilation", {1, 1});
  if (auto groups = attributes.getAs<IntegerAttr>("groups"))
    args.groups = groups.getInt();
  return args;
}

shp::Shape shapeListAttr(DictionaryAttr attributes, StringRef name) {
  shp::Shape shape;
  if (auto array = attributes.getAs<ArrayAttr>(name))
    for (Attribute a : array)
      if (auto v = a.dyn_cast<IntegerAttr>())
        shape.push_back(v.getInt());
  return shape;
}
} // namespace

#define CNN_INFER(Op, name, body)                                              \
  LogicalResult cnn::Op::inferReturnTypes(                                     \
      MLIRContext *context, Optional<Location> location, ValueRange operands,  \
      DictionaryAttr attributes, RegionRange,                                  \
      SmallVectorImpl<Type> &inferred) {                                       \
    (void)attributes;                                                          \
    return inferFromAll(                                                       \
        context, location, name, operands, inferred,                           \
        [&](const std::vector<shp::Shape> &s) { return body; });               \
  }

CNN_INFER(CrossEntropyOp, "cross_entropy", shp::crossEntropy(s[0], s[1]))
CNN_INFER(CrossEntropyGradOp, "cross_entropy_grad",
          shp::crossEntropyGrad(s[0], s[1]))
CNN_INFER(Conv2dInputGradOp, "conv2d_input_grad",
          shp::conv2dInputGrad(s[0], s[1], convArgs(attributes),
                               pairAttr(attributes, "input_size", {1, 1})))
CNN_INFER(Conv2dWeightGradOp, "conv2d_weight_grad",
          shp::conv2dWeightGrad(s[0], s[1], convArgs(attributes),
                                pairAttr(attributes, "kernel_size", {1, 1})))
CNN_INFER(BiasGradOp, "bias_grad", shp::biasGrad(s[0]))
CNN_INFER(LinearInputGradOp, "linear_input_grad",
          shp::linearInputGrad(s[0], s[1]))
CNN_INFER(LinearWeightGradOp, "linear_weight_grad",
          shp::linearWeightGrad(s[0], s[1]))
CNN_INFER(ReluGradOp, "relu_grad", shp::elementwiseGrad(s[0], s[1]))
CNN_INFER(TanhGradOp, "tanh_grad", shp::elementwiseGrad(s[0], s[1]))
CNN_INFER(SigmoidGradOp, "sigmoid_grad", shp::elementwiseGrad(s[0], s[1]))
CNN_INFER(MaxPool2dGradOp, "maxpool2d_grad",
          shp::maxPool2dGrad(s[0], s[1], poolArgs(attributes)))
CNN_INFER(AvgPool2dGradOp, "avgpool2d_grad",
          shp::avgPool2dGrad(s[0], poolArgs(attributes),
                             pairAttr(attributes, "input_size", {1, 1})))
CNN_INFER(AdaptiveAvgPool2dGradOp, "adaptive_avgpool2d_grad",
          shp::adaptiveAvgPool2dGrad(s[0], pairAttr(attributes, "input_size",
                                                    {1, 1})))
CNN_INFER(UnflattenOp, "unflatten",
          shp::unflatten(s[0], shapeListAttr(attributes, "shape")))
CNN_INFER(BatchNorm2dInputGradOp, "batchnorm2d_input_grad",
          shp::batchNorm2dInputGrad(s[0], s[1],
                                    {{"weight", s[2]},
                                     {"running_mean", s[3]},
                                     {"running_var", s[4]}}))
CNN_INFER(BatchNorm2dWeightGradOp, "batchnorm2d_weight_grad",
          shp::batchNorm2dWeightGrad(s[0], s[1],
                                     {{"running_mean", s[2]},
                                      {"running_var", s[3]}}))
#undef CNN_INFER

LogicalResult cnn::verifySgdUpdate(SgdUpdateOp op) {
  auto param = op.getParam().getDefiningOp<ParameterOp>();
  if (!param)
    return op.emitOpError("must update a value defined by cnn.parameter");
  if (param.getFrozen())
    return op.emitOpError("updates the frozen parameter '")
           << param.getName() << "'";
  if (param.getBuffer())
    return op.emitOpError("updates the buffer '")
           << param.getName() << "', which is never trained";
  return success();
}

LogicalResult cnn::verifyBatchNorm2dStatsUpdate(BatchNorm2dStatsUpdateOp op) {
  for (Value v : {op.getRunningMean(), op.getRunningVar()}) {
    auto param = v.getDefiningOp<ParameterOp>();
    if (!param || !param.getBuffer())
      return op.emitOpError(
          "must update values defined by cnn.parameter {buffer}");
  }
  double momentum = op.getMomentum().convertToDouble();
  if (!(momentum >= 0 && momentum <= 1))
    return op.emitOpError("momentum must be in [0, 1], got ") << momentum;
  auto input = shapeOf(op.getInput().getType());
  auto mean = shapeOf(op.getRunningMean().getType());
  auto var = shapeOf(op.getRunningVar().getType());
  if (input && mean && var) {
    shp::ShapeResult r = shp::batchNorm2d(
        *input, {{"running_mean", *mean}, {"running_var", *var}});
    if (!r.ok())
      return op.emitOpError(r.error);
  }
  return success();
}

#define GET_OP_CLASSES
#include "cnn/CnnOps.cpp.inc"
