// Flatten: a pure re-indexing, no data movement of its own; constants.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp flatten(const Tensor &input, const std::string &name) {
  const char *op = "flatten";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::flatten(input.shape));

  LoweredOp result;
  result.kind = OpKind::Flatten;
  result.inputs = {input};
  result.vars = detail::makeVars(name, 2);
  Var f = result.vars[0], n = result.vars[1];

  // C order: the last PyTorch dim (Halide dim 0) varies fastest, so peel
  // the Halide dims off f innermost first.
  const size_t rank = input.shape.size();
  std::vector<Expr> at(rank);
  Expr rest = f;
  for (size_t d = 0; d + 1 < rank; ++d) {
    int extent = int(input.shape[rank - 1 - d]);
    bool outermost = d + 2 == rank;
    at[d] = outermost ? rest : rest % extent;
    rest = rest / extent;
  }
  at[rank - 1] = n;

  Func out(detail::funcName(name));
  out(f, n) = input.func(at);
  result.output = {out, outShape};
  return result;
}

Tensor filled(const cnn::shape::Shape &shape, float value,
              const std::string &name) {
  Func f(detail::funcName(name));
  f(detail::makeVars(name, shape.size())) = value;
  return {f, shape};
}

} // namespace cnnc::hl
