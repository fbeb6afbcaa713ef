#include "../OpLowerings.h"

namespace cnnc::lowering {

void lowerOp(cnn::CatOp op, LoweringContext &cx) {
  std::vector<hl::Tensor> inputs;
  for (mlir::Value input : op.getInputs())
    inputs.push_back(cx.tensor(input));
  cx.define(op, hl::concat(inputs, int(op.getDim()), cx.funcName(op)));
}

void lowerOp(cnn::SliceOp op, LoweringContext &cx) {
  cx.define(op, hl::slice(cx.tensor(op.getInput()), int(op.getDim()),
                          int(op.getStart()), int(op.getLength()),
                          cx.funcName(op)));
}

} // namespace cnnc::lowering
