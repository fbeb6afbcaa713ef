// pad2d: a border around H and W, filled as PyTorch's F.pad modes fill it.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp pad2d(const Tensor &input, const cnn::shape::Pad2dArgs &args,
                const std::string &name) {
  const char *op = "pad2d";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::pad2d(input.shape, args));
  const int H = int(input.shape[2]), W = int(input.shape[3]);
  const int top = int(args.begin[0]), left = int(args.begin[1]);

  LoweredOp result;
  result.kind = OpKind::Pad2d;
  result.inputs = {input};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  Expr value = input.func(detail::padSource(x, W, left, args.mode),
                          detail::padSource(y, H, top, args.mode), c, n);
  if (args.mode == cnn::shape::PadMode::Zeros)
    value = select(x >= left && x < left + W && y >= top && y < top + H, value,
                   0.0f);
  Func out(detail::funcName(name));
  out(x, y, c, n) = value;
  result.output = {out, outShape};
  return result;
}

} // namespace cnnc::hl
