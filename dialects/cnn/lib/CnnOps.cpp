// Shape inference and verifiers of the cnn ops. Each op's `inferShape`
// adapts its operands and typed attributes to a free shape rule
// (ShapeRules.h); inferReturnTypesByShapeRule (CnnDialect.h) verifies the
// attributes first and reports the rule's message at the op's location.
#include "cnn/CnnDialect.h"
#include "cnn/ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include "cnn/CnnInterfaces.cpp.inc"

using namespace mlir;
namespace shp = cnn::shape;

shp::Shape cnn::shapeOf(Value value) {
  auto shape = value.getType().cast<RankedTensorType>().getShape();
  return {shape.begin(), shape.end()};
}

shp::Pair cnn::pairOf(ArrayAttr attr) {
  return {attr[0].cast<IntegerAttr>().getInt(),
          attr[1].cast<IntegerAttr>().getInt()};
}

bool cnn::detail::allRanked(ValueRange operands) {
  return llvm::all_of(
      operands, [](Value v) { return v.getType().isa<RankedTensorType>(); });
}

LogicalResult cnn::detail::toInferredType(MLIRContext *context,
                                          Optional<Location> location,
                                          StringRef opName,
                                          const shp::ShapeResult &result,
                                          SmallVectorImpl<Type> &inferred) {
  if (!result.ok())
    return emitOptionalError(location, "'", opName, "' ", result.error);
  inferred.push_back(
      RankedTensorType::get(result.shape, FloatType::getF32(context)));
  return success();
}

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

namespace {

std::optional<shp::Shape> optionalShape(Value v) {
  if (!v)
    return std::nullopt;
  return cnn::shapeOf(v);
}

template <typename Adaptor> shp::Conv2dArgs convArgs(Adaptor op) {
  return {cnn::pairOf(op.getStride()), cnn::pairOf(op.getPadding()),
          cnn::pairOf(op.getDilation()), int64_t(op.getGroups())};
}

/// The channel operands of a batch norm or its gradients, by name.
shp::ChannelOperands
channels(std::initializer_list<std::pair<const char *, Value>> operands) {
  shp::ChannelOperands result;
  for (const auto &[name, value] : operands)
    result.push_back({name, cnn::shapeOf(value)});
  return result;
}

} // namespace

namespace cnn {

//===----------------------------------------------------------------------===//
// Forward ops
//===----------------------------------------------------------------------===//

shp::ShapeResult Conv2dOp::inferShape(Adaptor op) {
  return shp::conv2d(shapeOf(op.getInput()), shapeOf(op.getWeight()),
                     optionalShape(op.getBias()), convArgs(op));
}

shp::ShapeResult LinearOp::inferShape(Adaptor op) {
  return shp::linear(shapeOf(op.getInput()), shapeOf(op.getWeight()),
                     optionalShape(op.getBias()));
}

shp::ShapeResult ReluOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult TanhOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult SigmoidOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult LeakyReluOp::inferShape(Adaptor op) {
  return shp::leakyRelu(shapeOf(op.getInput()),
                        op.getNegativeSlope().convertToDouble());
}

shp::ShapeResult DropoutOp::inferShape(Adaptor op) {
  return shp::dropout(shapeOf(op.getInput()), op.getP().convertToDouble(),
                      op.getChannelwise());
}

shp::ShapeResult EluOp::inferShape(Adaptor op) {
  return shp::elu(shapeOf(op.getInput()), op.getAlpha().convertToDouble());
}

shp::ShapeResult HardtanhOp::inferShape(Adaptor op) {
  return shp::hardtanh(shapeOf(op.getInput()), op.getMinVal().convertToDouble(),
                       op.getMaxVal().convertToDouble());
}

shp::ShapeResult HardsigmoidOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult SiluOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult GeluOp::inferShape(Adaptor op) {
  return shp::gelu(shapeOf(op.getInput()), op.getApproximate().str());
}

shp::ShapeResult HardswishOp::inferShape(Adaptor op) {
  return shp::elementwise(shapeOf(op.getInput()));
}

shp::ShapeResult AddOp::inferShape(Adaptor op) {
  return shp::add(shapeOf(op.getLhs()), shapeOf(op.getRhs()));
}

shp::ShapeResult MaxPool2dOp::inferShape(Adaptor op) {
  return shp::maxPool2d(shapeOf(op.getInput()), maxPoolArgsOf(op));
}

shp::ShapeResult AvgPool2dOp::inferShape(Adaptor op) {
  return shp::avgPool2d(shapeOf(op.getInput()), avgPoolArgsOf(op));
}

shp::ShapeResult CatOp::inferShape(Adaptor op) {
  std::vector<shp::Shape> shapes;
  for (Value input : op.getInputs())
    shapes.push_back(shapeOf(input));
  return shp::cat(shapes, int64_t(op.getDim()));
}

shp::ShapeResult SliceOp::inferShape(Adaptor op) {
  return shp::slice(shapeOf(op.getInput()), int64_t(op.getDim()),
                    int64_t(op.getStart()), int64_t(op.getLength()));
}

shp::ShapeResult SoftmaxOp::inferShape(Adaptor op) {
  return shp::softmax(shapeOf(op.getInput()), int64_t(op.getDim()));
}

shp::ShapeResult LogSoftmaxOp::inferShape(Adaptor op) {
  return shp::softmax(shapeOf(op.getInput()), int64_t(op.getDim()));
}

shp::ShapeResult SoftmaxGradOp::inferShape(Adaptor op) {
  return shp::softmaxGrad(shapeOf(op.getResultValue()), shapeOf(op.getGrad()),
                          int64_t(op.getDim()));
}

shp::ShapeResult LogSoftmaxGradOp::inferShape(Adaptor op) {
  return shp::softmaxGrad(shapeOf(op.getResultValue()), shapeOf(op.getGrad()),
                          int64_t(op.getDim()));
}

shp::ShapeResult AdaptiveMaxPool2dOp::inferShape(Adaptor op) {
  return shp::adaptiveMaxPool2d(shapeOf(op.getInput()),
                                pairOf(op.getOutputSize()));
}

shp::ShapeResult AdaptiveAvgPool2dOp::inferShape(Adaptor op) {
  return shp::adaptiveAvgPool2d(shapeOf(op.getInput()),
                                pairOf(op.getOutputSize()));
}

shp::ShapeResult BatchNorm2dOp::inferShape(Adaptor op) {
  return shp::batchNorm2d(shapeOf(op.getInput()),
                          channels({{"weight", op.getWeight()},
                                    {"bias", op.getBias()},
                                    {"running_mean", op.getRunningMean()},
                                    {"running_var", op.getRunningVar()}}));
}

namespace {
shp::ShapeResult unknownPadMode(llvm::StringRef mode) {
  std::string names;
  for (const std::string &name : shp::padModeNames())
    names += (names.empty() ? "" : ", ") + name;
  return shp::ShapeResult::failure("mode must be one of " + names + ", got '" +
                                   mode.str() + "'");
}
} // namespace

shp::ShapeResult Pad2dOp::inferShape(Adaptor op) {
  std::optional<shp::Pad2dArgs> args = padArgsOf(op);
  if (!args)
    return unknownPadMode(op.getMode());
  return shp::pad2d(shapeOf(op.getInput()), *args);
}

shp::ShapeResult FillOp::inferShape(Adaptor op) {
  shp::Shape shape;
  for (Attribute a : op.getShape())
    shape.push_back(a.cast<IntegerAttr>().getInt());
  return shp::fill(shape);
}

shp::ShapeResult FlattenOp::inferShape(Adaptor op) {
  return shp::flatten(shapeOf(op.getInput()));
}

//===----------------------------------------------------------------------===//
// Training ops
//===----------------------------------------------------------------------===//

shp::ShapeResult CrossEntropyOp::inferShape(Adaptor op) {
  return shp::crossEntropy(shapeOf(op.getLogits()), shapeOf(op.getLabels()));
}

shp::ShapeResult CrossEntropyGradOp::inferShape(Adaptor op) {
  return shp::crossEntropyGrad(shapeOf(op.getLogits()),
                               shapeOf(op.getLabels()));
}

shp::ShapeResult Conv2dInputGradOp::inferShape(Adaptor op) {
  return shp::conv2dInputGrad(shapeOf(op.getGrad()), shapeOf(op.getWeight()),
                              convArgs(op), pairOf(op.getInputSize()));
}

shp::ShapeResult Conv2dWeightGradOp::inferShape(Adaptor op) {
  return shp::conv2dWeightGrad(shapeOf(op.getInput()), shapeOf(op.getGrad()),
                               convArgs(op), pairOf(op.getKernelSize()));
}

shp::ShapeResult BiasGradOp::inferShape(Adaptor op) {
  return shp::biasGrad(shapeOf(op.getGrad()));
}

shp::ShapeResult LinearInputGradOp::inferShape(Adaptor op) {
  return shp::linearInputGrad(shapeOf(op.getGrad()), shapeOf(op.getWeight()));
}

shp::ShapeResult LinearWeightGradOp::inferShape(Adaptor op) {
  return shp::linearWeightGrad(shapeOf(op.getInput()), shapeOf(op.getGrad()));
}

shp::ShapeResult ReluGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getResultValue()),
                              shapeOf(op.getGrad()));
}

shp::ShapeResult TanhGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getResultValue()),
                              shapeOf(op.getGrad()));
}

shp::ShapeResult SigmoidGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getResultValue()),
                              shapeOf(op.getGrad()));
}

namespace {
/// An activation gradient of `value` (the activation's result or input)
/// and `grad`, once the activation's arguments passed their rule.
shp::ShapeResult activationGrad(shp::ShapeResult arguments, Value value,
                                Value grad) {
  if (!arguments.ok())
    return arguments;
  return shp::elementwiseGrad(shapeOf(value), shapeOf(grad));
}
} // namespace

shp::ShapeResult LeakyReluGradOp::inferShape(Adaptor op) {
  return activationGrad(
      shp::leakyRelu({}, op.getNegativeSlope().convertToDouble()),
      op.getResultValue(), op.getGrad());
}

shp::ShapeResult DropoutGradOp::inferShape(Adaptor op) {
  return shp::dropout(shapeOf(op.getGrad()), op.getP().convertToDouble(),
                      op.getChannelwise());
}

shp::ShapeResult EluGradOp::inferShape(Adaptor op) {
  return activationGrad(shp::elu({}, op.getAlpha().convertToDouble()),
                        op.getResultValue(), op.getGrad());
}

shp::ShapeResult HardtanhGradOp::inferShape(Adaptor op) {
  return activationGrad(shp::hardtanh({}, op.getMinVal().convertToDouble(),
                                      op.getMaxVal().convertToDouble()),
                        op.getResultValue(), op.getGrad());
}

shp::ShapeResult HardsigmoidGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getResultValue()),
                              shapeOf(op.getGrad()));
}

shp::ShapeResult SiluGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getInputValue()),
                              shapeOf(op.getGrad()));
}

shp::ShapeResult GeluGradOp::inferShape(Adaptor op) {
  return activationGrad(shp::gelu({}, op.getApproximate().str()),
                        op.getInputValue(), op.getGrad());
}

shp::ShapeResult HardswishGradOp::inferShape(Adaptor op) {
  return shp::elementwiseGrad(shapeOf(op.getInputValue()),
                              shapeOf(op.getGrad()));
}

shp::ShapeResult MaxPool2dGradOp::inferShape(Adaptor op) {
  return shp::maxPool2dGrad(shapeOf(op.getInput()), shapeOf(op.getGrad()),
                            maxPoolArgsOf(op));
}

shp::ShapeResult AvgPool2dGradOp::inferShape(Adaptor op) {
  return shp::avgPool2dGrad(shapeOf(op.getGrad()), avgPoolArgsOf(op),
                            pairOf(op.getInputSize()));
}

shp::ShapeResult AdaptiveMaxPool2dGradOp::inferShape(Adaptor op) {
  return shp::adaptiveMaxPool2dGrad(shapeOf(op.getInput()),
                                    shapeOf(op.getGrad()));
}

shp::ShapeResult AdaptiveAvgPool2dGradOp::inferShape(Adaptor op) {
  return shp::adaptiveAvgPool2dGrad(shapeOf(op.getGrad()),
                                    pairOf(op.getInputSize()));
}

shp::ShapeResult Pad2dGradOp::inferShape(Adaptor op) {
  std::optional<shp::Pad2dArgs> args = padArgsOf(op);
  if (!args)
    return unknownPadMode(op.getMode());
  return shp::pad2dGrad(shapeOf(op.getGrad()), *args,
                        pairOf(op.getInputSize()));
}

shp::ShapeResult UnflattenOp::inferShape(Adaptor op) {
  shp::Shape sample;
  for (Attribute a : op.getShape())
    sample.push_back(a.cast<IntegerAttr>().getInt());
  return shp::unflatten(shapeOf(op.getInput()), sample);
}

shp::ShapeResult BatchNorm2dInputGradOp::inferShape(Adaptor op) {
  return shp::batchNorm2dInputGrad(
      shapeOf(op.getInput()), shapeOf(op.getGrad()),
      channels({{"weight", op.getWeight()},
                {"running_mean", op.getRunningMean()},
                {"running_var", op.getRunningVar()}}));
}

shp::ShapeResult BatchNorm2dWeightGradOp::inferShape(Adaptor op) {
  return shp::batchNorm2dWeightGrad(
      shapeOf(op.getInput()), shapeOf(op.getGrad()),
      channels({{"running_mean", op.getRunningMean()},
                {"running_var", op.getRunningVar()}}));
}

} // namespace cnn

//===----------------------------------------------------------------------===//
// Verifiers of the ops without results
//===----------------------------------------------------------------------===//

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
  if (detail::allRanked(op->getOperands())) {
    shp::ShapeResult r =
        shp::batchNorm2d(shapeOf(op.getInput()),
                         channels({{"running_mean", op.getRunningMean()},
                                   {"running_var", op.getRunningVar()}}));
    if (!r.ok())
      return op.emitOpError(r.error);
  }
  return success();
}

#define GET_OP_CLASSES
#include "cnn/CnnOps.cpp.inc"
