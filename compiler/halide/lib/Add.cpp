// Element-wise sum: residual connections, and the sum of the gradients of a
// value read by several ops.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp add(const Tensor &lhs, const Tensor &rhs, const std::string &name) {
  detail::checkTensor("add", "lhs", lhs);
  detail::checkTensor("add", "rhs", rhs);
  cnn::shape::Shape shape =
      detail::checkShape("add", cnn::shape::add(lhs.shape, rhs.shape));
  LoweredOp result;
  result.kind = OpKind::Elementwise;
  result.inputs = {lhs, rhs};
  result.vars = detail::makeVars(name, lhs.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  Func out(detail::funcName(name));
  out(result.vars) = lhs.func(at) + rhs.func(at);
  result.output = {out, shape};
  return result;
}

} // namespace cnnc::hl
