// torch.cat along one dimension, and its gradient (a slice per input).
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

namespace {
std::vector<Expr> exprs(const std::vector<Var> &vars) {
  return std::vector<Expr>(vars.begin(), vars.end());
}
} // namespace

LoweredOp concat(const std::vector<Tensor> &inputs, int dim,
                 const std::string &name) {
  const char *op = "cat";
  std::vector<cnn::shape::Shape> shapes;
  for (const Tensor &t : inputs) {
    detail::checkTensor(op, "input", t);
    shapes.push_back(t.shape);
  }
  cnn::shape::Shape shape =
      detail::checkShape(op, cnn::shape::cat(shapes, dim));

  LoweredOp result;
  result.kind = OpKind::Concat;
  result.inputs = inputs;
  result.vars = detail::makeVars(name, shape.size());
  const size_t axis = shape.size() - 1 - size_t(dim); // the Halide dimension
  const Var i = result.vars[axis];
  // From the last input back: each earlier one where i is below its end.
  // Indices are clamped into each input: select evaluates every side.
  int end = int(shape[size_t(dim)]);
  Expr value;
  for (size_t k = inputs.size(); k-- > 0;) {
    const int extent = int(inputs[k].shape[size_t(dim)]);
    const int start = end - extent;
    std::vector<Expr> at = exprs(result.vars);
    at[axis] = clamp(i - start, 0, extent - 1);
    Expr element = inputs[k].func(at);
    value = value.defined() ? select(i < end, element, value) : element;
    end = start;
  }
  Func out(detail::funcName(name));
  out(exprs(result.vars)) = value;
  result.output = {out, shape};
  return result;
}

LoweredGrad slice(const Tensor &dy, int dim, int start, int length,
                  const std::string &name) {
  const char *op = "slice";
  detail::checkTensor(op, "dy", dy);
  cnn::shape::Shape shape =
      detail::checkShape(op, cnn::shape::slice(dy.shape, dim, start, length));
  LoweredGrad result;
  result.kind = GradKind::Slice;
  result.inputs = {dy};
  result.vars = detail::makeVars(name, shape.size());
  const size_t axis = shape.size() - 1 - size_t(dim);
  std::vector<Expr> at = exprs(result.vars);
  at[axis] = at[axis] + start;
  Func out(detail::funcName(name));
  out(exprs(result.vars)) = dy.func(at);
  result.output = {out, shape};
  return result;
}

} // namespace cnnc::hl
