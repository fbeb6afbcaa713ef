// Element-wise ops of one tensor (the activations' algorithm).
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp elementwise(const Tensor &input, const ElementFormula &formula,
                      const std::string &name) {
  const char *op = "elementwise";
  detail::checkTensor(op, "input", input);
  LoweredOp result;
  result.kind = OpKind::Elementwise;
  result.inputs = {input};
  result.vars = detail::makeVars(name, input.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  Func out(detail::funcName(name));
  out(result.vars) = formula(input.func(at));
  result.output = {
      out, detail::checkShape(op, cnn::shape::elementwise(input.shape))};
  return result;
}

} // namespace cnnc::hl
