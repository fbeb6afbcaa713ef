#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::SoftmaxOp op, LoweringContext &cx) {
  cx.define(op, hl::softmax(cx.tensor(op.getInput()), int(op.getDim()),
                            /*log=*/false, cx.funcName(op)));
}

void lowerOp(cnn::LogSoftmaxOp op, LoweringContext &cx) {
  cx.define(op, hl::softmax(cx.tensor(op.getInput()), int(op.getDim()),
                            /*log=*/true, cx.funcName(op)));
}

void lowerOp(cnn::SoftmaxGradOp op, LoweringContext &cx) {
  cx.define(op, hl::softmaxGrad(cx.tensor(op.getResultValue()),
                                cx.tensor(op.getGrad()), int(op.getDim()),
                                /*log=*/false, cx.funcName(op)));
}

void lowerOp(cnn::LogSoftmaxGradOp op, LoweringContext &cx) {
  cx.define(op, hl::softmaxGrad(cx.tensor(op.getResultValue()),
                                cx.tensor(op.getGrad()), int(op.getDim()),
                                /*log=*/true, cx.funcName(op)));
}

} // namespace cnnc::lowering
