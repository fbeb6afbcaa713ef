// Batch norm in training mode shares its input's batch statistics with its
// gradients and its running-statistics update (LoweringContext::batchStats).
#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::BatchNorm2dOp op, LoweringContext &cx) {
  if (op.getTraining())
    cx.statsComputedByForwardOp(op.getInput());
  cx.define(op,
            hl::batchNorm2d(
                cx.tensor(op.getInput()), cx.tensor(op.getWeight()),
                cx.tensor(op.getBias()), cx.tensor(op.getRunningMean()),
                cx.tensor(op.getRunningVar()), op.getEps().convertToDouble(),
                cx.batchStats(op.getTraining(), op.getInput(), op),
                cx.funcName(op)));
}

void lowerOp(cnn::BatchNorm2dInputGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::batchNorm2dInputGrad(
                cx.tensor(op.getInput()), cx.tensor(op.getGrad()),
                cx.tensor(op.getWeight()), cx.tensor(op.getRunningMean()),
                cx.tensor(op.getRunningVar()), op.getEps().convertToDouble(),
                cx.batchStats(op.getTraining(), op.getInput(), op), cx.batch(),
                cx.funcName(op)));
}

void lowerOp(cnn::BatchNorm2dWeightGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::batchNorm2dWeightGrad(
                cx.tensor(op.getInput()), cx.tensor(op.getGrad()),
                cx.tensor(op.getRunningMean()), cx.tensor(op.getRunningVar()),
                op.getEps().convertToDouble(),
                cx.batchStats(op.getTraining(), op.getInput(), op), cx.batch(),
                cx.funcName(op)));
}

void lowerOp(cnn::BatchNorm2dStatsUpdateOp op, LoweringContext &cx) {
  cx.define(op,
            hl::batchNorm2dStatsUpdate(
                cx.tensor(op.getRunningMean()), cx.tensor(op.getRunningVar()),
                *cx.batchStats(true, op.getInput(), op),
                op.getMomentum().convertToDouble(), cx.funcName(op)));
}

std::optional<mlir::Value> batchStatsInputOf(mlir::Operation *op) {
  if (auto bn = mlir::dyn_cast<cnn::BatchNorm2dOp>(op))
    return bn.getTraining() ? std::optional(bn.getInput()) : std::nullopt;
  if (auto grad = mlir::dyn_cast<cnn::BatchNorm2dInputGradOp>(op))
    return grad.getTraining() ? std::optional(grad.getInput()) : std::nullopt;
  if (auto grad = mlir::dyn_cast<cnn::BatchNorm2dWeightGradOp>(op))
    return grad.getTraining() ? std::optional(grad.getInput()) : std::nullopt;
  if (auto update = mlir::dyn_cast<cnn::BatchNorm2dStatsUpdateOp>(op))
    return update.getInput();
  return std::nullopt;
}

} // namespace cnnc::lowering
