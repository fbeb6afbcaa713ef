#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::FlattenOp op, LoweringContext &cx) {
  cx.define(op, hl::flatten(cx.tensor(op.getInput()), cx.funcName(op)));
}

void lowerOp(cnn::UnflattenOp op, LoweringContext &cx) {
  cx.define(op, hl::flattenGrad(cx.tensor(op.getInput()),
                                cnn::shapeOf(op.getResult()), cx.funcName(op)));
}

} // namespace cnnc::lowering
