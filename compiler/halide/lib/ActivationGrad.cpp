// Element-wise backward ops: activation gradients and unflatten.
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

LoweredGrad elementwiseGrad(const Tensor &saved, const Tensor &dy,
                            const ElementGradFormula &formula,
                            const std::string &name) {
  const char *op = "elementwise_grad";
  detail::checkTensor(op, "saved", saved);
  detail::checkTensor(op, "dy", dy);
  detail::checkSameShape(op, "saved and dy", saved.shape, dy.shape);
  LoweredGrad result;
  result.kind = GradKind::ElementwiseGrad;
  result.inputs = {saved, dy};
  result.vars = detail::makeVars(name, dy.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  Func out(detail::funcName(name));
  out(result.vars) = formula(saved.func(at), dy.func(at));
  result.output = {out, dy.shape};
  return result;
}

LoweredGrad flattenGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                        const std::string &name) {
  const char *op = "flatten_grad";
  detail::checkTensor(op, "dy", dy);
  cnn::shape::Shape flat =
      detail::checkShape(op, cnn::shape::flatten(inputShape));
  detail::checkSameShape(op, "dy and flattened input", dy.shape, flat);

  LoweredGrad result;
  result.kind = GradKind::FlattenGrad;
  result.inputs = {dy};
  const size_t rank = inputShape.size();
  result.vars = detail::makeVars(name, rank);
  // C order: f = ((d1 * D2 + d2) * D3 + d3) ..., the last PyTorch dim
  // (Halide dim 0) fastest; PyTorch dim pd is Halide dim rank - 1 - pd.
  Expr f = 0;
  for (size_t pd = 1; pd < rank; ++pd)
    f = f * int(inputShape[pd]) + result.vars[rank - 1 - pd];
  Func out(detail::funcName(name));
  out(result.vars) = dy.func(f, result.vars[rank - 1]);
  result.output = {out, inputShape};
  return result;
}

} // namespace cnnc::hl
