// Conv2d backward (input and weight gradients) and the bias gradient.
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

namespace {

/// Whether at least a fifth of a stride-1 conv input gradient's (row, kernel
/// row) taps read dy's zero border rows.
bool readsZeroRowsOften(int inH, int outH, int kH, int py, int dly) {
  int zero = 0;
  for (int y = 0; y < inH; ++y)
    for (int ky = 0; ky < kH; ++ky) {
      const int oy = y + py - ky * dly;
      zero += oy < 0 || oy >= outH;
    }
  return 5 * zero >= inH * kH;
}

} // namespace

LoweredGrad conv2dInputGrad(const Tensor &dy, const Tensor &weight,
                            const cnn::shape::Shape &inputShape,
                            const cnn::shape::Conv2dArgs &args,
                            const std::string &name) {
  const char *op = "conv2d_input_grad";
  detail::checkTensor(op, "dy", dy);
  detail::checkTensor(op, "weight", weight);
  detail::checkRank4(op, "input", inputShape);
  cnn::shape::Shape dyShape = detail::checkShape(
      op, cnn::shape::conv2d(inputShape, weight.shape, std::nullopt, args));
  detail::checkSameShape(op, "dy and forward output", dy.shape, dyShape);

  const int outH = int(dyShape[2]), outW = int(dyShape[3]);
  const int outChannels = int(weight.shape[0]);
  const int groupIn = int(weight.shape[1]);
  const int kH = int(weight.shape[2]), kW = int(weight.shape[3]);
  const int groupOut = outChannels / int(args.groups);
  const int sy = int(args.stride[0]), sx = int(args.stride[1]);
  const int py = int(args.padding[0]), px = int(args.padding[1]);
  const int dly = int(args.dilation[0]), dlx = int(args.dilation[1]);

  LoweredGrad result;
  result.kind = GradKind::Conv2dInputGrad;
  result.inputs = {dy, weight};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];

  // Output pixel ox reads input ox * s - p + k * d, so input x receives
  // from tap k the output (x + p - k * d) / s when that divides exactly
  // (Halide's / and % are Euclidean: right for negative numerators too)
  // and lands inside [0, outW) (dy's zero border below sees to that).
  result.rdom =
      RDom({{0, kW}, {0, kH}, {0, groupOut}}, detail::funcName(name, "_r"));
  RDom &r = result.rdom;
  Expr tx = x + px - r.x * dlx, ty = y + py - r.y * dly;
  Expr ox = sx == 1 ? tx : tx / sx, oy = sy == 1 ? ty : ty / sy;
  Expr dividesX = tx % sx == 0, dividesY = ty % sy == 0;
  Expr divides = sx == 1 ? dividesY : sy == 1 ? dividesX : dividesX && dividesY;
  // A small plane behind a wide border (LeNet's conv2: 14 input rows, 5x5
  // taps, dy 10 rows high) spends many of its taps on dy's rows of zeros
  // (20 of 70 row taps): those are skipped. A schedule unrolling the rows
  // and the kernel rows drops them at compile time; otherwise the
  // predicate is a branch (Halide puts it in the innermost loop of a row
  // or of a kernel row).
  if (sx == 1 && sy == 1 &&
      readsZeroRowsOften(int(inputShape[2]), outH, kH, py, dly))
    r.where(oy >= 0 && oy < outH);
  Expr group = c / groupIn;
  Expr o = group * groupOut + r.z;
  // A modulo, whose bounds Halide knows exactly over any range of c (a
  // GPU thread's c is a division of a fused index).
  Expr ci = c % groupIn;
  if (args.groups == 1) { // the same, but visibly independent of c
    o = r.z;
    ci = c;
  }
  // dy behind a zero exterior (stored[0]): nothing outside dy is read, and
  // a stored copy lets the schedule read it with dense, unclamped vectors.
  // The zeros are exactly the taps that land outside dy, so the sum needs
  // no select for them (a per-tap mask in the innermost loop); it would
  // differ only for a non-finite weight (0 * inf), which already makes the
  // forward output NaN. Strides > 1 still skip the taps that do not divide
  // (a schedule that unrolls pixels by the stride and the taps knows which
  // at compile time).
  Func dyPadded(detail::funcName(name, "_dy_padded"));
  dyPadded(x, y, c, n) = BoundaryConditions::constant_exterior(
      dy.func, 0.0f, {{0, outW}, {0, outH}, Range(), Range()})(x, y, c, n);
  result.stored = {dyPadded};
  Expr value = dyPadded(ox, oy, o, n) * weight.func(r.x, r.y, ci, o);

  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) +=
      sx == 1 && sy == 1 ? value : select(divides, value, 0.0f);
  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, inputShape};
  return result;
}

bool weightGradOverOutputChannels(const cnn::shape::Shape &weightShape,
                                  const cnn::shape::Conv2dArgs &args) {
  // Kernel rows of up to 12 taps: one vector of output channels by the row
  // fits every CPU's register budget (12 accumulators with AVX2).
  return args.groups == 1 && weightShape[0] % kWeightGradRowChunk == 0 &&
         weightShape[1] % kWeightGradRowChunk == 0 && weightShape[3] <= 12;
}

LoweredGrad conv2dWeightGrad(const Tensor &input, const Tensor &dy,
                             const cnn::shape::Shape &weightShape,
                             const cnn::shape::Conv2dArgs &args,
                             const Expr &batch, const std::string &name,
                             bool wholeRows) {
  const char *op = "conv2d_weight_grad";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "dy", dy);
  detail::checkRank4(op, "input", input.shape);
  const cnn::shape::Shape &wShape = weightShape;
  cnn::shape::Shape dyShape = detail::checkShape(
      op, cnn::shape::conv2d(input.shape, wShape, std::nullopt, args));
  detail::checkSameShape(op, "dy and forward output", dy.shape, dyShape);

  const int inH = int(input.shape[2]), inW = int(input.shape[3]);
  const int outH = int(dyShape[2]), outW = int(dyShape[3]);
  const int groupIn = int(wShape[1]);
  const int groupOut = int(wShape[0] / args.groups);
  const int sy = int(args.stride[0]), sx = int(args.stride[1]);
  const int py = int(args.padding[0]), px = int(args.padding[1]);
  const int dly = int(args.dilation[0]), dlx = int(args.dilation[1]);

  LoweredGrad result;
  result.kind = GradKind::Conv2dWeightGrad;
  result.inputs = {input, dy};
  // Weight [O, C/g, KH, KW] is w(kx, ky, ci, o).
  std::vector<Var> vars;
  for (const char *v : {"_kx", "_ky", "_ci", "_o"})
    vars.emplace_back(detail::funcName(name + v));
  result.vars = vars;
  Var kx = vars[0], ky = vars[1], ci = vars[2], o = vars[3];

  Func source = input.func;
  if (px > 0 || py > 0) {
    // The input behind its zero padding (stored[0]): a stored copy lets the
    // schedule read it with dense, unclamped vectors.
    Var x, y, c, n;
    source = Func(detail::funcName(name, "_x_padded"));
    source(x, y, c, n) = BoundaryConditions::constant_exterior(
        input.func, 0.0f, {{0, inW}, {0, inH}, Range(), Range()})(x, y, c, n);
    result.stored = {source};
  }
  // Strided, a weight gradient vectorised over output x (the schedules' row
  // form) would read every sx-th input column: shuffles or gathers at each
  // tap. The input is then stored phase by phase instead (stored[0], [x /
  // sx, x % sx, y, c, n], from the padded input's first column), so that tap
  // kx reads phase (kx * dlx) % sx densely, from column ox + (kx * dlx) /
  // sx. (A schedule vectorised over output channels reads single values of
  // it either way.) Unpadded, the phases past the last column (computed,
  // never read) repeat the edge.
  const bool rowForm =
      !wholeRows && !weightGradOverOutputChannels(wShape, args);
  const bool byPhase = sx > 1 && rowForm;
  Func phases;
  if (byPhase) {
    Func columns = source;
    if (result.stored.empty())
      columns = BoundaryConditions::repeat_edge(
          input.func, {{0, inW}, Range(), Range(), Range()});
    Var u, phase, y, c, n;
    phases = Func(detail::funcName(name, "_x_phases"));
    phases(u, phase, y, c, n) = columns(u * sx + phase - px, y, c, n);
    result.stored = {phases};
  }
  // The pixels (ox, oy, n) summed over; with row chunks, ox = the chunk's
  // start + the pixel within it, and a pixel an earlier chunk already
  // counted contributes 0.
  Expr ox, oy, n, counted;
  const int rowChunk = kWeightGradRowChunk;
  if (rowChunk < outW && rowForm) {
    const int chunks = (outW + rowChunk - 1) / rowChunk;
    result.rdom = RDom({{0, rowChunk}, {0, chunks}, {0, outH}, {0, batch}},
                       detail::funcName(name, "_r"));
    const RDom &r = result.rdom;
    Expr first = r[1] * rowChunk;
    ox = min(first, outW - rowChunk) + r[0];
    if (outW % rowChunk != 0)
      counted = ox >= first;
    oy = r[2];
    n = r[3];
  } else {
    result.rdom =
        RDom({{0, outW}, {0, outH}, {0, batch}}, detail::funcName(name, "_r"));
    ox = result.rdom.x;
    oy = result.rdom.y;
    n = result.rdom.z;
  }
  Expr inChannel = (o / groupOut) * groupIn + ci;
  if (args.groups == 1)
    inChannel = ci;
  // The mask is on dy, not on the product: one blend per dy vector, shared
  // by every tap, and the product stays one fused multiply-add.
  Expr grad = dy.func(ox, oy, o, n);
  if (counted.defined())
    grad = select(counted, grad, 0.0f);
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(kx, ky, ci, o) = 0.0f;
  const Expr iy = oy * sy - py + ky * dly;
  const Expr x =
      byPhase ? phases(ox + (kx * dlx) / sx, (kx * dlx) % sx, iy, inChannel, n)
              : source(ox * sx - px + kx * dlx, iy, inChannel, n);
  result.accum(kx, ky, ci, o) += x * grad;
  Func out(detail::funcName(name));
  out(kx, ky, ci, o) = result.accum(kx, ky, ci, o);
  result.output = {out, wShape};
  return result;
}

LoweredGrad biasGrad(const Tensor &dy, const Expr &batch,
                     const std::string &name) {
  const char *op = "bias_grad";
  detail::checkTensor(op, "dy", dy);
  if (dy.shape.size() != 4 && dy.shape.size() != 2)
    detail::fail(op, "dy must be [N, C, H, W] or [N, F], got " +
                         cnn::shape::format(dy.shape));
  LoweredGrad result;
  result.kind = GradKind::BiasGrad;
  result.inputs = {dy};
  Var c(detail::funcName(name + "_c"));
  result.vars = {c};
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(c) = 0.0f;
  if (dy.shape.size() == 4) {
    result.rdom =
        RDom({{0, int(dy.shape[3])}, {0, int(dy.shape[2])}, {0, batch}},
             detail::funcName(name, "_r"));
    const RDom &r = result.rdom;
    result.accum(c) += dy.func(r.x, r.y, c, r.z);
  } else {
    result.rdom = RDom(0, batch, detail::funcName(name, "_r"));
    result.accum(c) += dy.func(c, result.rdom.x);
  }
  Func out(detail::funcName(name));
  out(c) = result.accum(c);
  result.output = {out, {dy.shape[1]}};
  return result;
}

} // namespace cnnc::hl
