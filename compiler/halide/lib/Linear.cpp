// Linear (fully connected) as a Halide reduction: y = x W^T + b.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp linear(const Tensor &input, const Tensor &weight,
                 const std::optional<Tensor> &bias, const std::string &name) {
  const char *op = "linear";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "weight", weight);
  if (bias)
    detail::checkTensor(op, "bias", *bias);
  std::optional<cnn::shape::Shape> biasShape;
  if (bias)
    biasShape = bias->shape;
  cnn::shape::Shape outShape = detail::checkShape(
      op, cnn::shape::linear(input.shape, weight.shape, biasShape));
  const int inFeatures = int(weight.shape[1]);

  LoweredOp result;
  result.kind = OpKind::Linear;
  result.inputs = {input, weight};
  if (bias)
    result.inputs.push_back(*bias);
  result.vars = detail::makeVars(name, 2);
  Var o = result.vars[0], n = result.vars[1];

  // weight [out, in] is w(k, o): k is contiguous in memory.
  result.rdom = RDom({{0, inFeatures}}, detail::funcName(name, "_r"));
  RVar k = result.rdom.x;
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(o, n) = bias ? bias->func(o) : Expr(0.0f);
  result.accum(o, n) += input.func(k, n) * weight.func(k, o);

  Func out(detail::funcName(name));
  out(o, n) = result.accum(o, n);
  result.output = {out, outShape};
  return result;
}

} // namespace cnnc::hl
