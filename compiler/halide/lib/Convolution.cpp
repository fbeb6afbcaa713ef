// Conv2d as a Halide reduction, PyTorch semantics.
#include "Common.h"

namespace cnnc::hl {

using namespace Halide;

LoweredOp conv2d(const Tensor &input, const Tensor &weight,
                 const std::optional<Tensor> &bias,
                 const cnn::shape::Conv2dArgs &args, const std::string &name) {
  const char *op = "conv2d";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "weight", weight);
  if (bias)
    detail::checkTensor(op, "bias", *bias);
  std::optional<cnn::shape::Shape> biasShape;
  if (bias)
    biasShape = bias->shape;
  cnn::shape::Shape outShape = detail::checkShape(
      op, cnn::shape::conv2d(input.shape, weight.shape, biasShape, args));

  const int outChannels = int(weight.shape[0]);
  const int groupInChannels = int(weight.shape[1]);
  const int kH = int(weight.shape[2]), kW = int(weight.shape[3]);
  const int groupOutChannels = outChannels / int(args.groups);
  const int sy = int(args.stride[0]), sx = int(args.stride[1]);
  const int py = int(args.padding[0]), px = int(args.padding[1]);
  const int dy = int(args.dilation[0]), dx = int(args.dilation[1]);

  LoweredOp result;
  result.kind = OpKind::Conv2d;
  result.inputs = {input, weight};
  if (bias)
    result.inputs.push_back(*bias);
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];

  // Zero padding on the spatial dims only; the input is never read out of
  // its bounds.
  Func source = input.func;
  if (px > 0 || py > 0) {
    result.padded = detail::paddedInput(input, 0.0f, name);
    source = result.padded;
  }

  // r = (kx, ky, ci): ci is the input channel within the group of output
  // channel c, so with groups the input channel is group * groupIn + ci.
  result.rdom = RDom({{0, kW}, {0, kH}, {0, groupInChannels}},
                     detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  Expr inChannel = r.z;
  if (args.groups > 1)
    inChannel = (c / groupOutChannels) * groupInChannels + r.z;
  Expr ix = x * sx - px + r.x * dx;
  Expr iy = y * sy - py + r.y * dy;

  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = bias ? bias->func(c) : Expr(0.0f);
  result.accum(x, y, c, n) +=
      source(ix, iy, inChannel, n) * weight.func(r.x, r.y, r.z, c);

  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, outShape};
  return result;
}

} // namespace cnnc::hl
