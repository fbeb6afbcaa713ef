// The gradient rule of every differentiable cnn op, in one place: given the
// gradient of the loss w.r.t. an op's result, build the gradient ops of the
// operands that need one. Results are typed as the operands they
// differentiate; the gradient ops' verifiers re-check them with the shape
// rules.
#include "cnn/CnnDialect.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace cnn {
namespace {

ArrayAttr spatialSize(OpBuilder &b, Value v) {
  auto shape = v.getType().cast<RankedTensorType>().getShape();
  return b.getI64ArrayAttr({shape[2], shape[3]});
}

/// Bias gradients sum the output gradient over all but the channel dim.
Value biasGrad(OpBuilder &b, Location loc, Value bias, Value resultGrad) {
  return b.create<BiasGradOp>(loc, bias.getType(), resultGrad);
}

void resize(SmallVectorImpl<Value> &grads, size_t n) {
  grads.assign(n, Value());
}

} // namespace

void Conv2dOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                              SmallVectorImpl<Value> &grads) {
  resize(grads, getNumOperands());
  Location loc = getLoc();
  if (needed[0])
    grads[0] = b.create<Conv2dInputGradOp>(
        loc, getInput().getType(), grad, getWeight(), getStride(), getPadding(),
        getDilation(), getGroupsAttr(), spatialSize(b, getInput()));
  if (needed[1]) {
    auto w = getWeight().getType().cast<RankedTensorType>().getShape();
    grads[1] = b.create<Conv2dWeightGradOp>(
        loc, getWeight().getType(), getInput(), grad, getStride(), getPadding(),
        getDilation(), getGroupsAttr(), b.getI64ArrayAttr({w[2], w[3]}));
  }
  if (getBias() && needed[2])
    grads[2] = biasGrad(b, loc, getBias(), grad);
}

void LinearOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                              SmallVectorImpl<Value> &grads) {
  resize(grads, getNumOperands());
  Location loc = getLoc();
  if (needed[0])
    grads[0] = b.create<LinearInputGradOp>(loc, getInput().getType(), grad,
                                           getWeight());
  if (needed[1])
    grads[1] = b.create<LinearWeightGradOp>(loc, getWeight().getType(),
                                            getInput(), grad);
  if (getBias() && needed[2])
    grads[2] = biasGrad(b, loc, getBias(), grad);
}

// Activation gradients read the activation's result, which the forward
// schedule stores, rather than its input, which it may fuse away.
void ReluOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                            SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] =
        b.create<ReluGradOp>(getLoc(), grad.getType(), getResult(), grad);
}

void TanhOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                            SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] =
        b.create<TanhGradOp>(getLoc(), grad.getType(), getResult(), grad);
}

void SigmoidOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] =
        b.create<SigmoidGradOp>(getLoc(), grad.getType(), getResult(), grad);
}

void LeakyReluOp::buildGradients(OpBuilder &b, Value grad,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<LeakyReluGradOp>(getLoc(), grad.getType(), getResult(),
                                         grad, getNegativeSlopeAttr());
}

// The same mask as the forward op's: the gradient op recomputes it from
// the same (seed, step, stream), so nothing is stored.
void DropoutOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] =
        b.create<DropoutGradOp>(getLoc(), grad.getType(), grad, getPAttr(),
                                getChannelwiseAttr(), getStreamAttr());
}

void EluOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                           SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<EluGradOp>(getLoc(), grad.getType(), getResult(), grad,
                                   getAlphaAttr());
}

void HardtanhOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                                SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<HardtanhGradOp>(getLoc(), grad.getType(), getResult(),
                                        grad, getMinValAttr(), getMaxValAttr());
}

void HardsigmoidOp::buildGradients(OpBuilder &b, Value grad,
                                   ArrayRef<bool> needed,
                                   SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<HardsigmoidGradOp>(getLoc(), grad.getType(),
                                           getResult(), grad);
}

// Not monotonic: these gradients read the activation's input.
void SiluOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                            SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<SiluGradOp>(getLoc(), grad.getType(), getInput(), grad);
}

void GeluOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                            SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<GeluGradOp>(getLoc(), grad.getType(), getInput(), grad,
                                    getApproximateAttr());
}

void HardswishOp::buildGradients(OpBuilder &b, Value grad,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] =
        b.create<HardswishGradOp>(getLoc(), grad.getType(), getInput(), grad);
}

// d(x + y) = dy for both operands: no op is needed.
void AddOp::buildGradients(OpBuilder &, Value grad, ArrayRef<bool> needed,
                           SmallVectorImpl<Value> &grads) {
  resize(grads, 2);
  for (int i = 0; i < 2; ++i)
    if (needed[i])
      grads[i] = grad;
}

void MaxPool2dOp::buildGradients(OpBuilder &b, Value grad,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<MaxPool2dGradOp>(
        getLoc(), getInput().getType(), getInput(), grad, getKernelSize(),
        getStride(), getPadding(), getDilation(), getCeilModeAttr());
}

void AvgPool2dOp::buildGradients(OpBuilder &b, Value grad,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<AvgPool2dGradOp>(
        getLoc(), getInput().getType(), grad, getKernelSize(), getStride(),
        getPadding(), getCountIncludePadAttr(), spatialSize(b, getInput()),
        getCeilModeAttr(), getDivisorOverrideAttr());
}

void Pad2dOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                             SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<Pad2dGradOp>(getLoc(), getInput().getType(), grad,
                                     getBegin(), getEnd(), getModeAttr(),
                                     spatialSize(b, getInput()));
}

// Each input's gradient is its slice of the result's.
void CatOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                           SmallVectorImpl<Value> &grads) {
  resize(grads, getNumOperands());
  const int64_t dim = int64_t(getDim());
  int64_t start = 0;
  for (unsigned i = 0; i < getNumOperands(); ++i) {
    Value input = getOperand(i);
    const int64_t length = shapeOf(input)[size_t(dim)];
    if (needed[i])
      grads[i] = b.create<SliceOp>(getLoc(), input.getType(), grad,
                                   getDimAttr(), b.getI64IntegerAttr(start),
                                   b.getI64IntegerAttr(length));
    start += length;
  }
}

// Both read their result, as the monotonic activations do.
void SoftmaxOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<SoftmaxGradOp>(getLoc(), grad.getType(), getResult(),
                                       grad, getDimAttr());
}

void LogSoftmaxOp::buildGradients(OpBuilder &b, Value grad,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<LogSoftmaxGradOp>(getLoc(), grad.getType(), getResult(),
                                          grad, getDimAttr());
}

void AdaptiveMaxPool2dOp::buildGradients(OpBuilder &b, Value grad,
                                         ArrayRef<bool> needed,
                                         SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<AdaptiveMaxPool2dGradOp>(getLoc(), getInput().getType(),
                                                 getInput(), grad);
}

void AdaptiveAvgPool2dOp::buildGradients(OpBuilder &b, Value grad,
                                         ArrayRef<bool> needed,
                                         SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (needed[0])
    grads[0] = b.create<AdaptiveAvgPool2dGradOp>(
        getLoc(), getInput().getType(), grad, spatialSize(b, getInput()));
}

// The running statistics are buffers: they never need a gradient. In
// training mode the gradient ops recompute the batch statistics of the
// input, which the lowering shares with the forward op.
void BatchNorm2dOp::buildGradients(OpBuilder &b, Value grad,
                                   ArrayRef<bool> needed,
                                   SmallVectorImpl<Value> &grads) {
  resize(grads, getNumOperands());
  Location loc = getLoc();
  if (needed[0])
    grads[0] = b.create<BatchNorm2dInputGradOp>(
        loc, getInput().getType(), getInput(), grad, getWeight(),
        getRunningMean(), getRunningVar(), getEpsAttr(), getTrainingAttr());
  if (needed[1])
    grads[1] = b.create<BatchNorm2dWeightGradOp>(
        loc, getWeight().getType(), getInput(), grad, getRunningMean(),
        getRunningVar(), getEpsAttr(), getTrainingAttr());
  if (needed[2])
    grads[2] = biasGrad(b, loc, getBias(), grad);
}

void FlattenOp::buildGradients(OpBuilder &b, Value grad, ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &grads) {
  resize(grads, 1);
  if (!needed[0])
    return;
  auto shape = getInput().getType().cast<RankedTensorType>().getShape();
  grads[0] = b.create<UnflattenOp>(
      getLoc(), getInput().getType(), grad,
      b.getI64ArrayAttr(llvm::to_vector(shape.drop_front())));
}

} // namespace cnn
