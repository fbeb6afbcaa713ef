// Softmax and log-softmax along one dimension, and their gradient.
#include "GradientsCommon.h"

#include <limits>

namespace cnnc::hl {

using namespace Halide;

namespace {

/// A reduction along PyTorch dimension `dim` of a tensor of `rank`: the
/// Func's args are `vars` without that dimension's, and `at(r)` are the
/// args of the element r along it.
struct AxisReduction {
  std::vector<Var> args;
  RDom r;
  std::vector<Expr> at(const std::vector<Var> &vars) const {
    std::vector<Expr> index(vars.begin(), vars.end());
    index[axis] = r;
    return index;
  }
  size_t axis; // the Halide dimension
};

AxisReduction alongDim(const std::vector<Var> &vars, const Tensor &t, int dim,
                       const std::string &name) {
  AxisReduction a;
  a.axis = vars.size() - 1 - size_t(dim);
  for (size_t i = 0; i < vars.size(); ++i)
    if (i != a.axis)
      a.args.push_back(vars[i]);
  a.r = RDom(0, int(t.shape[size_t(dim)]), detail::funcName(name, "_r"));
  return a;
}

std::vector<Expr> exprs(const std::vector<Var> &vars) {
  return std::vector<Expr>(vars.begin(), vars.end());
}

} // namespace

LoweredOp softmax(const Tensor &input, int dim, bool log,
                  const std::string &name) {
  const char *op = log ? "log_softmax" : "softmax";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape shape =
      detail::checkShape(op, cnn::shape::softmax(input.shape, dim));

  LoweredOp result;
  result.kind = OpKind::Softmax;
  result.inputs = {input};
  result.vars = detail::makeVars(name, shape.size());
  AxisReduction a = alongDim(result.vars, input, dim, name);
  const std::vector<Expr> args = exprs(a.args);

  Func top(detail::funcName(name, "_max"));
  top(args) = Expr(-std::numeric_limits<float>::infinity());
  top(args) = max(top(args), input.func(a.at(result.vars)));
  Func sum(detail::funcName(name, "_sum"));
  sum(args) = 0.0f;
  sum(args) += exp(input.func(a.at(result.vars)) - top(args));
  result.stored = {top, sum};

  Expr shifted = input.func(exprs(result.vars)) - top(args);
  Func out(detail::funcName(name));
  out(exprs(result.vars)) =
      log ? shifted - Halide::log(sum(args)) : exp(shifted) / sum(args);
  result.output = {out, shape};
  return result;
}

LoweredGrad softmaxGrad(const Tensor &y, const Tensor &dy, int dim, bool log,
                        const std::string &name) {
  const char *op = log ? "log_softmax_grad" : "softmax_grad";
  detail::checkTensor(op, "y", y);
  detail::checkTensor(op, "dy", dy);
  detail::checkShape(op, cnn::shape::softmaxGrad(y.shape, dy.shape, dim));

  LoweredGrad result;
  result.kind = GradKind::SoftmaxGrad;
  result.inputs = {y, dy};
  result.vars = detail::makeVars(name, y.shape.size());
  AxisReduction a = alongDim(result.vars, y, dim, name);
  const std::vector<Expr> args = exprs(a.args), at = a.at(result.vars);

  Func total(detail::funcName(name, "_sum"));
  total(args) = 0.0f;
  total(args) += log ? dy.func(at) : dy.func(at) * y.func(at);
  result.stored = {total};

  const std::vector<Expr> here = exprs(result.vars);
  Func out(detail::funcName(name));
  out(here) = log ? dy.func(here) - exp(y.func(here)) * total(args)
                  : y.func(here) * (dy.func(here) - total(args));
  result.output = {out, y.shape};
  return result;
}

} // namespace cnnc::hl
