#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::ReluOp op, LoweringContext &cx) {
  cx.define(op, hl::activation(hl::OpKind::Relu, cx.tensor(op.getInput()),
                               cx.funcName(op)));
}

void lowerOp(cnn::TanhOp op, LoweringContext &cx) {
  cx.define(op, hl::activation(hl::OpKind::Tanh, cx.tensor(op.getInput()),
                               cx.funcName(op)));
}

void lowerOp(cnn::SigmoidOp op, LoweringContext &cx) {
  cx.define(op, hl::activation(hl::OpKind::Sigmoid, cx.tensor(op.getInput()),
                               cx.funcName(op)));
}

// Activation gradients read the activation's stored result y; y > 0 exactly
// where x > 0, so ReLU's rule may read it too.
void lowerOp(cnn::ReluGradOp op, LoweringContext &cx) {
  cx.define(op, hl::activationGrad(hl::GradKind::ReluGrad,
                                   cx.tensor(op.getResultValue()),
                                   cx.tensor(op.getGrad()), cx.funcName(op)));
}

void lowerOp(cnn::TanhGradOp op, LoweringContext &cx) {
  cx.define(op, hl::activationGrad(hl::GradKind::TanhGrad,
                                   cx.tensor(op.getResultValue()),
                                   cx.tensor(op.getGrad()), cx.funcName(op)));
}

void lowerOp(cnn::SigmoidGradOp op, LoweringContext &cx) {
  cx.define(op, hl::activationGrad(hl::GradKind::SigmoidGrad,
                                   cx.tensor(op.getResultValue()),
                                   cx.tensor(op.getGrad()), cx.funcName(op)));
}

/// A residual add, or the sum of a value's gradients in the training step.
void lowerOp(cnn::AddOp op, LoweringContext &cx) {
  cx.define(op, hl::add(cx.tensor(op.getLhs()), cx.tensor(op.getRhs()),
                        cx.funcName(op)));
}

} // namespace cnnc::lowering
