#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::MaxPool2dOp op, LoweringContext &cx) {
  cx.define(op, hl::maxPool2d(cx.tensor(op.getInput()), cnn::maxPoolArgsOf(op),
                              cx.funcName(op)));
}

void lowerOp(cnn::AvgPool2dOp op, LoweringContext &cx) {
  cx.define(op, hl::avgPool2d(cx.tensor(op.getInput()), cnn::avgPoolArgsOf(op),
                              op.getCountIncludePad(), cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveAvgPool2dOp op, LoweringContext &cx) {
  cx.define(op, hl::adaptiveAvgPool2d(cx.tensor(op.getInput()),
                                      cnn::pairOf(op.getOutputSize()),
                                      cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveMaxPool2dOp op, LoweringContext &cx) {
  cx.define(op, hl::adaptiveMaxPool2d(cx.tensor(op.getInput()),
                                      cnn::pairOf(op.getOutputSize()),
                                      cx.funcName(op)));
}

void lowerOp(cnn::MaxPool2dGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::maxPool2dGrad(cx.tensor(op.getInput()), cx.tensor(op.getGrad()),
                              cnn::maxPoolArgsOf(op), cx.funcName(op)));
}

void lowerOp(cnn::AvgPool2dGradOp op, LoweringContext &cx) {
  cx.define(op, hl::avgPool2dGrad(cx.tensor(op.getGrad()),
                                  cnn::shapeOf(op.getResult()),
                                  cnn::avgPoolArgsOf(op),
                                  op.getCountIncludePad(), cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveAvgPool2dGradOp op, LoweringContext &cx) {
  cx.define(op, hl::adaptiveAvgPool2dGrad(cx.tensor(op.getGrad()),
                                          cnn::shapeOf(op.getResult()),
                                          cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveMaxPool2dGradOp op, LoweringContext &cx) {
  cx.define(op, hl::adaptiveMaxPool2dGrad(cx.tensor(op.getInput()),
                                          cx.tensor(op.getGrad()),
                                          cx.funcName(op)));
}

} // namespace cnnc::lowering
