// The SGD update, PyTorch's torch.optim.SGD rule.
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

LoweredGrad sgdUpdate(const Tensor &param, const Tensor &grad,
                      const Tensor *velocity, const SgdHyper &hyper,
                      const std::string &name) {
  const char *op = "sgd_update";
  for (const Tensor *t : {&param, &grad, velocity})
    if (t) {
      detail::checkTensor(op,
                          t == &param  ? "param"
                          : t == &grad ? "grad"
                                       : "velocity",
                          *t);
      if (!t->shape.empty() && t->shape[0] < 1)
        detail::fail(op, "parameters have static shapes, got " +
                             cnn::shape::format(t->shape));
    }
  detail::checkSameShape(op, "param and grad", param.shape, grad.shape);
  if (velocity)
    detail::checkSameShape(op, "param and velocity", param.shape,
                           velocity->shape);
  if (!hyper.momentum.defined() || !hyper.weightDecay.defined() ||
      !hyper.firstStep.defined())
    detail::fail(op, "undefined hyper-parameter");

  LoweredGrad result;
  result.kind = GradKind::SgdUpdate;
  result.inputs = {param, grad};
  if (velocity)
    result.inputs.push_back(*velocity);
  result.vars = detail::makeVars(name, param.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());

  Expr lr = hyper.lr;
  Expr mu = cast<float>(hyper.momentum);
  Expr wd = cast<float>(hyper.weightDecay);
  Expr p = param.func(at);
  // PyTorch: d_p = d_p.add(p, alpha=weight_decay) only when wd != 0.
  Expr g = select(wd != 0.0f, grad.func(at) + wd * p, grad.func(at));
  Expr step = g;
  if (velocity) {
    Expr first = cast<bool>(hyper.firstStep);
    Expr v = select(first, g, mu * velocity->func(at) + g);
    Expr useMomentum = mu != 0.0f;
    Func vNew(detail::funcName(name, "_velocity"));
    vNew(result.vars) = select(useMomentum, v, velocity->func(at));
    result.extraOutputs.push_back({vNew, velocity->shape});
    Expr momentumStep = select(cast<bool>(hyper.nesterov), g + mu * v, v);
    step = select(useMomentum, momentumStep, g);
  }
  Func out(detail::funcName(name));
  out(result.vars) = p - lr * step;
  result.output = {out, param.shape};
  return result;
}

} // namespace cnnc::hl
