#include "../OpLowerings.h"

namespace cnnc::lowering {

namespace {
template <typename Op> cnn::shape::Conv2dArgs convArgs(Op op) {
  return {cnn::pairOf(op.getStride()), cnn::pairOf(op.getPadding()),
          cnn::pairOf(op.getDilation()), int64_t(op.getGroups())};
}
} // namespace

void lowerOp(cnn::Conv2dOp op, LoweringContext &cx) {
  cx.define(op, hl::conv2d(cx.tensor(op.getInput()), cx.tensor(op.getWeight()),
                           cx.optionalTensor(op.getBias()), convArgs(op),
                           cx.funcName(op)));
}

void lowerOp(cnn::Conv2dInputGradOp op, LoweringContext &cx) {
  cx.define(op, hl::conv2dInputGrad(cx.tensor(op.getGrad()),
                                    cx.tensor(op.getWeight()),
                                    cnn::shapeOf(op.getResult()), convArgs(op),
                                    cx.funcName(op)));
}

void lowerOp(cnn::Conv2dWeightGradOp op, LoweringContext &cx) {
  // The GPU schedules' lanes are output channels: whole rows.
  cx.define(op,
            hl::conv2dWeightGrad(
                cx.tensor(op.getInput()), cx.tensor(op.getGrad()),
                cnn::shapeOf(op.getResult()), convArgs(op), cx.batch(),
                cx.funcName(op), /*wholeRows=*/cx.machine().gpu.has_value()));
}

} // namespace cnnc::lowering
