// Dropout reads the run's seed and step index, arguments of the training
// step only; a dropout that draws no mask (inference, p = 0) multiplies by
// 1, which Halide simplifies away.
#include "../OpLowerings.h"

namespace cnnc::lowering {
namespace {

hl::DropoutMask maskOf(double p, bool channelwise, int64_t stream, bool draws,
                       const LoweringContext &cx) {
  hl::DropoutMask mask;
  mask.channelwise = channelwise;
  mask.stream = uint32_t(stream);
  if (draws) {
    mask.p = p;
    mask.seed = cx.arguments().randomSeed;
    mask.step = cx.arguments().stepIndex;
    mask.firstSample = cx.arguments().firstSample;
  } else {
    mask.p = 0.0;
    mask.seed = Halide::Internal::make_const(Halide::UInt(64), 0);
    mask.step = Halide::Internal::make_const(Halide::Int(64), 0);
  }
  return mask;
}

} // namespace

void lowerOp(cnn::DropoutOp op, LoweringContext &cx) {
  cx.define(op,
            hl::dropout(cx.tensor(op.getInput()),
                        maskOf(op.getP().convertToDouble(), op.getChannelwise(),
                               op.getStream(), cnn::drawsMask(op), cx),
                        cx.funcName(op)));
}

void lowerOp(cnn::DropoutGradOp op, LoweringContext &cx) {
  const double p = op.getP().convertToDouble();
  cx.define(op, hl::dropoutGrad(
                    cx.tensor(op.getGrad()),
                    maskOf(p, op.getChannelwise(), op.getStream(), p > 0.0, cx),
                    cx.funcName(op)));
}

} // namespace cnnc::lowering
