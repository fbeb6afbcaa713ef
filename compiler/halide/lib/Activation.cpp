// Element-wise activations.
#include "Common.h"

#include <stdexcept>

namespace cnnc::hl {

using namespace Halide;

LoweredOp activation(OpKind kind, const Tensor &input,
                     const std::string &name) {
  if (!isActivation(kind))
    throw std::invalid_argument(std::string("activation: ") + opKindName(kind) +
                                " is not an activation");
  const char *op = opKindName(kind);
  detail::checkTensor(op, "input", input);
  std::string base = name.empty() ? std::string(op) : name;

  LoweredOp result;
  result.kind = kind;
  result.inputs = {input};
  result.vars = detail::makeVars(base, input.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  Expr v = input.func(at);
  Expr value;
  switch (kind) {
  case OpKind::Relu:
    value = max(v, 0.0f);
    break;
  case OpKind::Tanh:
    value = tanh(v);
    break;
  default: // Sigmoid
    // 1 / (1 + e^-v): for very negative v, e^-v overflows to +inf and the
    // result is exactly 0, as in PyTorch; no cancellation near 0 or 1.
    value = 1.0f / (1.0f + exp(-v));
    break;
  }
  Func out(detail::funcName(base));
  out(result.vars) = value;
  result.output = {
      out, detail::checkShape(op, cnn::shape::elementwise(input.shape))};
  return result;
}

} // namespace cnnc::hl
