#include "../OpLowerings.h"

namespace cnnc::lowering {

/// PyTorch's SGD with momentum; the hyper-parameters are run-time
/// arguments of the training step.
void lowerOp(cnn::SgdUpdateOp op, LoweringContext &cx) {
  auto param = op.getParam().getDefiningOp<cnn::ParameterOp>();
  hl::Tensor velocity = cx.momentum(param);
  cx.define(op,
            hl::sgdUpdate(cx.tensor(op.getParam()), cx.tensor(op.getGrad()),
                          &velocity, cx.arguments().hyper, cx.funcName(op)));
}

} // namespace cnnc::lowering
