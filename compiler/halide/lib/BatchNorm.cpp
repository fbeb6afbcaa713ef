// Batch normalisation forward (eval and training mode) and the per-channel
// batch statistics it shares with its gradients and running-stat update.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

ChannelStats channelStats(const Tensor &input, const Expr &batch,
                          const std::string &name) {
  const char *op = "batchnorm2d";
  detail::checkTensor(op, "input", input);
  detail::checkShape(op, cnn::shape::batchNorm2d(input.shape, {}));
  const int W = int(input.shape[3]), H = int(input.shape[2]);
  ChannelStats s;
  Var c(detail::funcName(name + "_c"));
  s.rdom = RDom({{0, W}, {0, H}, {0, batch}}, detail::funcName(name, "_r"));
  const RDom &r = s.rdom;
  s.count = cast<float>(batch * (H * W));
  s.sum = Func(detail::funcName(name, "_sum"));
  s.sum(c) = 0.0f;
  s.sum(c) += input.func(r.x, r.y, c, r.z);
  s.mean = Func(detail::funcName(name, "_mean"));
  s.mean(c) = s.sum(c) / s.count;
  s.centred = Func(detail::funcName(name, "_centred"));
  s.centred(c) = 0.0f;
  Expr d = input.func(r.x, r.y, c, r.z) - s.mean(c);
  s.centred(c) += d * d;
  s.var = Func(detail::funcName(name, "_var"));
  s.var(c) = s.centred(c) / s.count;
  return s;
}

LoweredOp batchNorm2d(const Tensor &input, const Tensor &weight,
                      const Tensor &bias, const Tensor &runningMean,
                      const Tensor &runningVar, double eps,
                      const ChannelStats *batchStats, const std::string &name) {
  const char *op = "batchnorm2d";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "weight", weight);
  detail::checkTensor(op, "bias", bias);
  detail::checkTensor(op, "running_mean", runningMean);
  detail::checkTensor(op, "running_var", runningVar);
  cnn::shape::Shape shape = detail::checkShape(
      op, cnn::shape::batchNorm2d(input.shape,
                                  {{"weight", weight.shape},
                                   {"bias", bias.shape},
                                   {"running_mean", runningMean.shape},
                                   {"running_var", runningVar.shape}}));
  if (!(eps > 0))
    throw std::invalid_argument("batchnorm2d: eps must be positive");

  LoweredOp result;
  result.kind = OpKind::BatchNorm2d;
  result.inputs = {input, weight, bias, runningMean, runningVar};
  result.vars = detail::makeVars(name, 4);
  Var c = result.vars[2];
  Func mean = batchStats ? batchStats->mean : runningMean.func;
  Func var = batchStats ? batchStats->var : runningVar.func;
  // PyTorch's CPU kernel folds the normalisation the same way.
  Func scale(detail::funcName(name, "_scale")),
      shift(detail::funcName(name, "_shift"));
  scale(c) = weight.func(c) / sqrt(var(c) + float(eps));
  shift(c) = bias.func(c) - mean(c) * scale(c);
  result.stored = {scale, shift};
  // The statistics are shared with the gradients and the running-stat
  // update, which read them: this op is where they are scheduled.
  result.readsWholeInput = batchStats != nullptr;
  if (batchStats)
    result.stored.insert(result.stored.begin(),
                         {batchStats->sum, batchStats->mean,
                          batchStats->centred, batchStats->var});
  Func out(detail::funcName(name));
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  out(result.vars) = input.func(at) * scale(c) + shift(c);
  result.output = {out, shape};
  return result;
}

} // namespace cnnc::hl
