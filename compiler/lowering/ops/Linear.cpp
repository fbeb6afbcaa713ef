#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::LinearOp op, LoweringContext &cx) {
  cx.define(op, hl::linear(cx.tensor(op.getInput()), cx.tensor(op.getWeight()),
                           cx.optionalTensor(op.getBias()), cx.funcName(op)));
}

void lowerOp(cnn::LinearInputGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::linearInputGrad(cx.tensor(op.getGrad()),
                                cx.tensor(op.getWeight()), cx.funcName(op)));
}

void lowerOp(cnn::LinearWeightGradOp op, LoweringContext &cx) {
  cx.define(op, hl::linearWeightGrad(cx.tensor(op.getInput()),
                                     cx.tensor(op.getGrad()), cx.batch(),
                                     cx.funcName(op)));
}

/// Conv ([N, C, H, W] dy) and linear ([N, F] dy) biases alike.
void lowerOp(cnn::BiasGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::biasGrad(cx.tensor(op.getGrad()), cx.batch(), cx.funcName(op)));
}

} // namespace cnnc::lowering
