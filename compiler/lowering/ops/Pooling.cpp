#include "../OpLowerings.h"

namespace cnnc::lowering {

using cnn::pairOf;

void lowerOp(cnn::MaxPool2dOp op, LoweringContext &cx) {
  cx.define(op,
            hl::maxPool2d(cx.tensor(op.getInput()),
                          {pairOf(op.getKernelSize()), pairOf(op.getStride()),
                           pairOf(op.getPadding()), pairOf(op.getDilation())},
                          cx.funcName(op)));
}

void lowerOp(cnn::AvgPool2dOp op, LoweringContext &cx) {
  cx.define(op, hl::avgPool2d(cx.tensor(op.getInput()),
                              {pairOf(op.getKernelSize()),
                               pairOf(op.getStride()),
                               pairOf(op.getPadding()),
                               {1, 1}},
                              op.getCountIncludePad(), cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveAvgPool2dOp op, LoweringContext &cx) {
  cx.define(op,
            hl::adaptiveAvgPool2d(cx.tensor(op.getInput()),
                                  pairOf(op.getOutputSize()), cx.funcName(op)));
}

void lowerOp(cnn::MaxPool2dGradOp op, LoweringContext &cx) {
  cx.define(
      op, hl::maxPool2dGrad(cx.tensor(op.getInput()), cx.tensor(op.getGrad()),
                            {pairOf(op.getKernelSize()), pairOf(op.getStride()),
                             pairOf(op.getPadding()), pairOf(op.getDilation())},
                            cx.funcName(op)));
}

void lowerOp(cnn::AvgPool2dGradOp op, LoweringContext &cx) {
  cx.define(op, hl::avgPool2dGrad(cx.tensor(op.getGrad()),
                                  cnn::shapeOf(op.getResult()),
                                  {pairOf(op.getKernelSize()),
                                   pairOf(op.getStride()),
                                   pairOf(op.getPadding()),
                                   {1, 1}},
                                  op.getCountIncludePad(), cx.funcName(op)));
}

void lowerOp(cnn::AdaptiveAvgPool2dGradOp op, LoweringContext &cx) {
  cx.define(op, hl::adaptiveAvgPool2dGrad(cx.tensor(op.getGrad()),
                                          cnn::shapeOf(op.getResult()),
                                          cx.funcName(op)));
}

} // namespace cnnc::lowering
