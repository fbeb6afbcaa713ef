// cnn-autodiff: reverse-mode differentiation at the graph level. The
// gradient of each op comes from its own rule (GradientRules.cpp); this pass
// only decides which gradients are needed and chains the rules.
#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace {
#define GEN_PASS_CLASSES
#include "cnn/CnnPasses.h.inc"

struct AutodiffPass : public AutodiffBase<AutodiffPass> {
  void runOnOperation() override;
  LogicalResult buildTrainStep(FuncOp train);
};

bool isFrozenParameter(Value v) {
  auto param = v.getDefiningOp<cnn::ParameterOp>();
  return param && param.getFrozen();
}

/// Where the sum of a value's gradients is: the value's own location, named
/// "<layer> gradient_sum" after the layer that produced it, as the training
/// step's other ops are named ("conv1 conv2d_weight_grad") in the
/// profiler's table and in their Funcs' names; with the layer's own name,
/// the sum and the layer's forward op shared them.
Location gradientSumLoc(Value v) {
  Location loc = v.getLoc();
  if (auto name = loc.dyn_cast<NameLoc>())
    return NameLoc::get(StringAttr::get(loc.getContext(),
                                        name.getName().str() + " gradient_sum"),
                        name.getChildLoc());
  return loc;
}

/// Switches the training step's batch norms to training mode (batch
/// statistics, running statistics updated), as PyTorch's model.train(),
/// except those whose weight and bias are both frozen when the module's
/// `cnn.frozen_batchnorm` is "eval" (the default): a frozen backbone keeps
/// normalising with, and keeps, its running statistics. Returns the
/// switched ones.
SmallVector<cnn::BatchNorm2dOp> useBatchStatistics(FuncOp train) {
  auto mode = train->getParentOfType<ModuleOp>()->getAttrOfType<StringAttr>(
      "cnn.frozen_batchnorm");
  bool frozenUseBatch = mode && mode.getValue() == "batch_stats";
  SmallVector<cnn::BatchNorm2dOp> switched;
  train.walk([&](cnn::BatchNorm2dOp bn) {
    bool frozen =
        isFrozenParameter(bn.getWeight()) && isFrozenParameter(bn.getBias());
    if (frozen && !frozenUseBatch)
      return;
    bn.setTrainingAttr(BoolAttr::get(bn.getContext(), true));
    switched.push_back(bn);
  });
  return switched;
}

LogicalResult AutodiffPass::buildTrainStep(FuncOp train) {
  Block &body = train.getBody().front();
  auto ret = cast<ReturnOp>(body.getTerminator());
  if (ret.getNumOperands() != 1)
    return ret.emitError("func @forward must return exactly the logits");
  Value logits = ret.getOperand(0);
  Location loc = logits.getLoc();
  SmallVector<Operation *> forwardOps;
  for (Operation &op : body.without_terminator())
    forwardOps.push_back(&op);

  SmallVector<cnn::BatchNorm2dOp> batchStats = useBatchStatistics(train);
  // Dropout draws its masks in the training step only (model.train()).
  train.walk([&](cnn::DropoutOp dropout) {
    dropout.setTrainingAttr(BoolAttr::get(dropout.getContext(), true));
  });

  // A value needs a gradient when it depends on a trainable parameter.
  llvm::DenseSet<Value> needsGrad;
  for (Operation *op : forwardOps) {
    if (auto param = dyn_cast<cnn::ParameterOp>(op)) {
      if (!param.getFrozen() && !param.getBuffer())
        needsGrad.insert(param.getResult());
      continue;
    }
    if (llvm::any_of(op->getOperands(),
                     [&](Value v) { return needsGrad.contains(v); }))
      for (Value result : op->getResults())
        needsGrad.insert(result);
  }
  if (!needsGrad.contains(logits))
    return train.emitError("the network has no trainable parameter");

  OpBuilder b(ret);
  Value labels = body.addArgument(
      RankedTensorType::get({ShapedType::kDynamicSize}, b.getI64Type()), loc);
  auto lossType = RankedTensorType::get({}, b.getF32Type());
  Value loss = b.create<cnn::CrossEntropyOp>(loc, lossType, logits, labels);

  llvm::DenseMap<Value, Value> grads;
  grads[logits] =
      b.create<cnn::CrossEntropyGradOp>(loc, logits.getType(), logits, labels);
  for (Operation *op : llvm::reverse(forwardOps)) {
    if (isa<cnn::ParameterOp>(op) || op->getNumResults() != 1)
      continue;
    auto it = grads.find(op->getResult(0));
    if (it == grads.end())
      continue;
    auto differentiable = dyn_cast<cnn::DifferentiableOp>(op);
    if (!differentiable)
      return op->emitError("no gradient rule for '") << op->getName() << "'";
    SmallVector<bool> needed;
    for (Value operand : op->getOperands())
      needed.push_back(needsGrad.contains(operand));
    SmallVector<Value> operandGrads;
    differentiable.buildGradients(b, it->second, needed, operandGrads);
    // A value read by several ops (a residual branch) receives the sum of
    // their gradients. Ops are visited in reverse, so every reader of a value
    // is done before its producer reads the sum.
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!grad)
        continue;
      auto [it, inserted] = grads.insert({operand, grad});
      if (!inserted)
        it->second = b.create<cnn::AddOp>(gradientSumLoc(operand),
                                          grad.getType(), it->second, grad);
    }
  }

  // Without running statistics (track_running_stats: false, constants)
  // there is nothing to update.
  for (cnn::BatchNorm2dOp bn : batchStats)
    if (bn.getRunningMean().getDefiningOp<cnn::ParameterOp>())
      b.create<cnn::BatchNorm2dStatsUpdateOp>(
          bn.getLoc(), bn.getInput(), bn.getRunningMean(), bn.getRunningVar(),
          bn.getMomentumAttr());
  for (Operation *op : forwardOps)
    if (auto param = dyn_cast<cnn::ParameterOp>(op))
      if (Value grad = grads.lookup(param.getResult()))
        b.create<cnn::SgdUpdateOp>(param.getLoc(), param.getResult(), grad);

  ret->setOperands(loss);
  train.setType(b.getFunctionType(body.getArgumentTypes(), {lossType}));
  return success();
}

void AutodiffPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<FuncOp>("forward");
  if (!forward) {
    module.emitError("cnn-autodiff needs a func @forward");
    return signalPassFailure();
  }
  if (module.lookupSymbol("train_step")) {
    module.emitError("the module already has a func @train_step");
    return signalPassFailure();
  }
  FuncOp train = forward.clone();
  train.setName("train_step");
  module.push_back(train);
  if (failed(buildTrainStep(train)))
    return signalPassFailure();
}
} // namespace

std::unique_ptr<Pass> cnn::createAutodiffPass() {
  return std::make_unique<AutodiffPass>();
}
