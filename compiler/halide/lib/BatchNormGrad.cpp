// Batch normalisation backward: input and weight gradients in training
// mode (through the batch statistics) and eval mode, and the running-stat
// update.
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

namespace {

void checkOperands(
    const char *op, const Tensor &input, const Tensor &dy,
    const std::vector<std::pair<const char *, const Tensor *>> &perChannel) {
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "dy", dy);
  cnn::shape::ChannelOperands shapes;
  for (const auto &[what, t] : perChannel) {
    detail::checkTensor(op, what, *t);
    shapes.push_back({what, t->shape});
  }
  detail::checkShape(
      op, cnn::shape::batchNorm2dInputGrad(input.shape, dy.shape, shapes));
}

/// The statistics a gradient normalises with: the batch's or the running
/// ones (mean and 1 / sqrt(var + eps) per channel).
struct Normalisation {
  Func mean, invstd;
};

Normalisation normalisation(const Tensor &runningMean, const Tensor &runningVar,
                            double eps, const ChannelStats *batchStats,
                            const std::string &name) {
  Normalisation n;
  n.mean = batchStats ? batchStats->mean : runningMean.func;
  Func var = batchStats ? batchStats->var : runningVar.func;
  Var c(detail::funcName(name + "_c"));
  n.invstd = Func(detail::funcName(name, "_invstd"));
  n.invstd(c) = 1.0f / sqrt(var(c) + float(eps));
  return n;
}

} // namespace

LoweredGrad batchNorm2dInputGrad(const Tensor &input, const Tensor &dy,
                                 const Tensor &weight,
                                 const Tensor &runningMean,
                                 const Tensor &runningVar, double eps,
                                 const ChannelStats *batchStats,
                                 const Expr &batch, const std::string &name) {
  const char *op = "batchnorm2d_input_grad";
  checkOperands(op, input, dy,
                {{"weight", &weight},
                 {"running_mean", &runningMean},
                 {"running_var", &runningVar}});
  LoweredGrad result;
  result.kind = GradKind::BatchNorm2dInputGrad;
  result.inputs = {input, dy, weight, runningMean, runningVar};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  Normalisation norm =
      normalisation(runningMean, runningVar, eps, batchStats, name);
  // a = weight * invstd: all of dx in eval mode, where the statistics are
  // constants.
  Func a(detail::funcName(name, "_a"));
  a(c) = weight.func(c) * norm.invstd(c);
  result.stored = {norm.invstd, a};
  Func out(detail::funcName(name));
  if (!batchStats) {
    out(x, y, c, n) = dy.func(x, y, c, n) * a(c);
    result.output = {out, input.shape};
    return result;
  }
  // Training: dx = a * (dy - mean(dy) - (x - mean) * invstd^2 *
  // mean(dy * (x - mean))), the last two terms folded per channel.
  const int W = int(input.shape[3]), H = int(input.shape[2]);
  result.rdom =
      RDom({{0, W}, {0, H}, {0, batch}}, detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  Func sumDy(detail::funcName(name, "_sum_dy")),
      sumDyXmu(detail::funcName(name, "_sum_dy_xmu"));
  sumDy(c) = 0.0f;
  sumDy(c) += dy.func(r.x, r.y, c, r.z);
  sumDyXmu(c) = 0.0f;
  sumDyXmu(c) +=
      dy.func(r.x, r.y, c, r.z) * (input.func(r.x, r.y, c, r.z) - norm.mean(c));
  Func meanDy(detail::funcName(name, "_mean_dy")),
      slope(detail::funcName(name, "_slope"));
  meanDy(c) = sumDy(c) / batchStats->count;
  slope(c) = norm.invstd(c) * norm.invstd(c) * sumDyXmu(c) / batchStats->count;
  result.stored.insert(result.stored.end(), {sumDy, sumDyXmu, meanDy, slope});
  out(x, y, c, n) = a(c) * (dy.func(x, y, c, n) - meanDy(c) -
                            (input.func(x, y, c, n) - norm.mean(c)) * slope(c));
  result.output = {out, input.shape};
  return result;
}

LoweredGrad batchNorm2dWeightGrad(const Tensor &input, const Tensor &dy,
                                  const Tensor &runningMean,
                                  const Tensor &runningVar, double eps,
                                  const ChannelStats *batchStats,
                                  const Expr &batch, const std::string &name) {
  const char *op = "batchnorm2d_weight_grad";
  checkOperands(op, input, dy,
                {{"running_mean", &runningMean}, {"running_var", &runningVar}});
  LoweredGrad result;
  result.kind = GradKind::BatchNorm2dWeightGrad;
  result.inputs = {input, dy, runningMean, runningVar};
  Var c(detail::funcName(name + "_c"));
  result.vars = {c};
  Normalisation norm =
      normalisation(runningMean, runningVar, eps, batchStats, name);
  result.stored = {norm.invstd};
  const int W = int(input.shape[3]), H = int(input.shape[2]);
  result.rdom =
      RDom({{0, W}, {0, H}, {0, batch}}, detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  // sum(dy * xhat) = invstd * sum(dy * (x - mean)): one multiply per
  // channel instead of one per element.
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(c) = 0.0f;
  result.accum(c) +=
      dy.func(r.x, r.y, c, r.z) * (input.func(r.x, r.y, c, r.z) - norm.mean(c));
  Func out(detail::funcName(name));
  out(c) = result.accum(c) * norm.invstd(c);
  result.output = {out, {input.shape[1]}};
  return result;
}

LoweredGrad batchNorm2dStatsUpdate(const Tensor &runningMean,
                                   const Tensor &runningVar,
                                   const ChannelStats &batchStats,
                                   double momentum, const std::string &name) {
  const char *op = "batchnorm2d_stats_update";
  detail::checkTensor(op, "running_mean", runningMean);
  detail::checkTensor(op, "running_var", runningVar);
  detail::checkSameShape(op, "running_mean and running_var", runningMean.shape,
                         runningVar.shape);
  if (runningMean.shape.size() != 1)
    detail::fail(op, "running statistics must be [C], got " +
                         cnn::shape::format(runningMean.shape));
  if (!(momentum >= 0 && momentum <= 1))
    detail::fail(op, "momentum must be in [0, 1]");
  LoweredGrad result;
  result.kind = GradKind::BatchNorm2dStatsUpdate;
  result.inputs = {runningMean, runningVar};
  Var c(detail::funcName(name + "_c"));
  result.vars = {c};
  const float m = float(momentum);
  const Expr &count = batchStats.count;
  Func mean(detail::funcName(name, "_mean")),
      var(detail::funcName(name, "_var"));
  mean(c) = (1.0f - m) * runningMean.func(c) + m * batchStats.mean(c);
  var(c) = (1.0f - m) * runningVar.func(c) +
           m * batchStats.var(c) * (count / (count - 1.0f));
  result.output = {mean, runningMean.shape};
  result.extraOutputs = {{var, runningVar.shape}};
  return result;
}

} // namespace cnnc::hl
