// Linear backward: dx = dy W, dW = dy^T x (the bias gradient is biasGrad).
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

namespace {

void checkRank2(const char *op, const char *what, const Tensor &t) {
  detail::checkTensor(op, what, t);
  if (t.shape.size() != 2)
    detail::fail(op, std::string(what) + " must be rank 2, got " +
                         cnn::shape::format(t.shape));
}

} // namespace

LoweredGrad linearInputGrad(const Tensor &dy, const Tensor &weight,
                            const std::string &name) {
  const char *op = "linear_input_grad";
  checkRank2(op, "dy", dy);
  checkRank2(op, "weight", weight);
  if (dy.shape[1] != weight.shape[0])
    detail::fail(op, "dy " + cnn::shape::format(dy.shape) +
                         " does not match weight " +
                         cnn::shape::format(weight.shape));
  LoweredGrad result;
  result.kind = GradKind::LinearInputGrad;
  result.inputs = {dy, weight};
  result.vars = detail::makeVars(name, 2);
  Var k = result.vars[0], n = result.vars[1];
  result.rdom = RDom(0, int(weight.shape[0]), detail::funcName(name, "_r"));
  RVar o = result.rdom.x;
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(k, n) = 0.0f;
  result.accum(k, n) += dy.func(o, n) * weight.func(k, o);
  Func out(detail::funcName(name));
  out(k, n) = result.accum(k, n);
  result.output = {out, {dy.shape[0], weight.shape[1]}};
  return result;
}

LoweredGrad linearWeightGrad(const Tensor &input, const Tensor &dy,
                             const Expr &batch, const std::string &name) {
  const char *op = "linear_weight_grad";
  checkRank2(op, "input", input);
  checkRank2(op, "dy", dy);
  LoweredGrad result;
  result.kind = GradKind::LinearWeightGrad;
  result.inputs = {input, dy};
  Var k(detail::funcName(name + "_k")), o(detail::funcName(name + "_o"));
  result.vars = {k, o};
  result.rdom = RDom(0, batch, detail::funcName(name, "_r"));
  RVar n = result.rdom.x;
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(k, o) = 0.0f;
  result.accum(k, o) += dy.func(o, n) * input.func(k, n);
  Func out(detail::funcName(name));
  out(k, o) = result.accum(k, o);
  result.output = {out, {dy.shape[1], input.shape[1]}};
  return result;
}

} // namespace cnnc::hl
