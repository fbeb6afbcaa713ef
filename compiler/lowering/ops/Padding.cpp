#include "../OpLowerings.h"

namespace cnnc::lowering {

// The verifier has checked the mode (padArgsOf has a value).

void lowerOp(cnn::Pad2dOp op, LoweringContext &cx) {
  cx.define(op, hl::pad2d(cx.tensor(op.getInput()), *cnn::padArgsOf(op),
                          cx.funcName(op)));
}

void lowerOp(cnn::Pad2dGradOp op, LoweringContext &cx) {
  cx.define(op,
            hl::pad2dGrad(cx.tensor(op.getGrad()), cnn::shapeOf(op.getResult()),
                          *cnn::padArgsOf(op), cx.funcName(op)));
}

} // namespace cnnc::lowering
