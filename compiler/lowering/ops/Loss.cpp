#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::CrossEntropyOp op, LoweringContext &cx) {
  cx.define(op, hl::softmaxCrossEntropy(cx.tensor(op.getLogits()), cx.labels(),
                                        cx.batch(), cx.funcName(op)));
}

void lowerOp(cnn::CrossEntropyGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::softmaxCrossEntropyGrad(cx.tensor(op.getLogits()), cx.labels(),
                                        cx.batch(), 1.0f, cx.funcName(op)));
}

} // namespace cnnc::lowering
