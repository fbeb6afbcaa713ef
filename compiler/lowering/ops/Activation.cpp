// Activations and their gradients (formulas in cnnc/halide/Activations.h),
// and the element-wise add.
#include "../OpLowerings.h"

#include "cnnc/halide/Activations.h"

namespace cnnc::lowering {

namespace hla = hl::activations;

void lowerOp(cnn::ReluOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::relu,
                                cx.funcName(op)));
}

void lowerOp(cnn::TanhOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::tanh,
                                cx.funcName(op)));
}

void lowerOp(cnn::SigmoidOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::sigmoid,
                                cx.funcName(op)));
}

// Activation gradients read the activation's stored result y.
void lowerOp(cnn::ReluGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::reluGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::TanhGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::tanhGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::SigmoidGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::sigmoidGrad,
                                    cx.funcName(op)));
}

/// A residual add, or the sum of a value's gradients in the training step.
void lowerOp(cnn::AddOp op, LoweringContext &cx) {
  cx.define(op, hl::add(cx.tensor(op.getLhs()), cx.tensor(op.getRhs()),
                        cx.funcName(op)));
}

} // namespace cnnc::lowering
