// Backward of max, average and adaptive average and max pooling, as gathers
// over the windows covering each input pixel (no scatter, no atomics).
#include "GradientsCommon.h"

#include <algorithm>
#include <limits>

namespace cnnc::hl {

using namespace Halide;

namespace {

using Window = detail::PoolWindow;

/// The output index that reads input `i` through tap `k` along one axis,
/// and whether there is one: o * s - p + k * d == i with o in [0, out).
/// `o` comes back clamped into [0, out) (a safe read when !valid).
Expr tapOutput(Expr i, Expr k, int s, int p, int d, int out, Expr &valid) {
  Expr t = i + p - k * d;
  Expr o = s == 1 ? t : t / s; // Euclidean: right for negative t
  valid = o >= 0 && o < out;
  if (s > 1)
    valid = valid && t % s == 0;
  return clamp(o, 0, out - 1);
}

/// Whether `v` is a NaN, from its bits: Halide compiles float code with
/// fast-math flags, under which LLVM folded a vectorised is_nan to false.
Expr isNan(Expr v) {
  Expr bits = reinterpret<uint32_t>(v);
  return (bits & cast<uint32_t>(0x7fffffff)) > cast<uint32_t>(0x7f800000);
}

/// PyTorch's `val > max || isnan(val)`, with the comparison spelled out for
/// a NaN max: under fast-math flags `v > NaN` may compile to true.
Expr beats(Expr v, Expr best) { return isNan(v) || (!isNan(best) && v > best); }

} // namespace

LoweredGrad maxPool2dGrad(const Tensor &input, const Tensor &dy,
                          const cnn::shape::Pool2dArgs &args,
                          const std::string &name) {
  const char *op = "maxpool2d_grad";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "dy", dy);
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::maxPool2d(input.shape, args));
  detail::checkSameShape(op, "dy and forward output", dy.shape, outShape);
  Window w = detail::poolWindow(input.shape, outShape, args);

  LoweredGrad result;
  result.kind = GradKind::MaxPool2dGrad;
  result.inputs = {input, dy};

  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  Func out(detail::funcName(name));
  result.output = {out, input.shape};

  // PyTorch's CPU kernel starts from the first in-bounds tap with -inf and
  // takes a later tap when `val > max || isnan(val)`: the first maximum in
  // (ky, kx) scan order (the last NaN if any), and padding never wins (it
  // is skipped, not read as -inf).

  // Windows that tile the input (stride = kernel, no padding or dilation,
  // no ceil_mode window past the edge: the lecture's 2x2 pools): every tap is
  // in bounds and each input pixel lies in at most one window, so the winning
  // tap is a chain of selects (stored[0], a pure Func) and dx a select, with no
  // reductions.
  if (w.sx == w.kW && w.sy == w.kH && w.px == 0 && w.py == 0 && w.dx == 1 &&
      w.dy == 1 && w.outW * w.kW <= w.inW && w.outH * w.kH <= w.inH) {
    std::vector<Var> wv = detail::makeVars(name + "_winner", 4);
    Var wx = wv[0], wy = wv[1], wc = wv[2], wn = wv[3];
    Expr best = input.func(wx * w.kW, wy * w.kH, wc, wn), winning = 0;
    for (int t = 1; t < w.kW * w.kH; ++t) {
      Expr v = input.func(wx * w.kW + t % w.kW, wy * w.kH + t / w.kW, wc, wn);
      Expr take = beats(v, best);
      best = select(take, v, best);
      winning = select(take, t, winning);
    }
    Func winner(detail::funcName(name, "_winner"));
    winner(wx, wy, wc, wn) = winning;
    result.stored = {winner};
    Expr ox = min(x / w.kW, w.outW - 1), oy = min(y / w.kH, w.outH - 1);
    Expr covered = x < w.outW * w.kW && y < w.outH * w.kH;
    Expr tap = (y % w.kH) * w.kW + x % w.kW;
    out(x, y, c, n) = select(covered && winner(ox, oy, c, n) == tap,
                             dy.func(ox, oy, c, n), 0.0f);
    return result;
  }

  // Otherwise the argmax per output pixel is a reduction over the taps:
  // (max, tap ky * KW + kx), tap -1 until the first in-bounds tap.
  std::vector<Var> av = detail::makeVars(name + "_argmax", 4);
  Var ax = av[0], ay = av[1], ac = av[2], an = av[3];
  RDom t({{0, w.kW}, {0, w.kH}}, detail::funcName(name, "_taps"));
  Expr ix = ax * w.sx - w.px + t.x * w.dx, iy = ay * w.sy - w.py + t.y * w.dy;
  Expr inside = ix >= 0 && ix < w.inW && iy >= 0 && iy < w.inH;
  Expr v = input.func(clamp(ix, 0, w.inW - 1), clamp(iy, 0, w.inH - 1), ac, an);
  Func argmax(detail::funcName(name, "_argmax"));
  argmax(ax, ay, ac, an) =
      Tuple(Expr(-std::numeric_limits<float>::infinity()), Expr(-1));
  Expr best = argmax(ax, ay, ac, an)[0], bestTap = argmax(ax, ay, ac, an)[1];
  Expr take = inside && (bestTap < 0 || beats(v, best));
  argmax(ax, ay, ac, an) =
      Tuple(select(take, v, best), select(take, t.y * w.kW + t.x, bestTap));
  result.stored = {argmax};

  // dx: each input pixel sums dy of the windows whose argmax it is.
  result.rdom = RDom({{0, w.kW}, {0, w.kH}}, detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  Expr validX, validY;
  Expr ox = tapOutput(x, r.x, w.sx, w.px, w.dx, w.outW, validX);
  Expr oy = tapOutput(y, r.y, w.sy, w.py, w.dy, w.outH, validY);
  Expr hit = validX && validY && argmax(ox, oy, c, n)[1] == r.y * w.kW + r.x;
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) += select(hit, dy.func(ox, oy, c, n), 0.0f);
  out(x, y, c, n) = result.accum(x, y, c, n);
  return result;
}

LoweredGrad avgPool2dGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                          const cnn::shape::Pool2dArgs &args,
                          bool countIncludePad, const std::string &name) {
  const char *op = "avgpool2d_grad";
  detail::checkTensor(op, "dy", dy);
  detail::checkRank4(op, "input", inputShape);
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::avgPool2d(inputShape, args));
  detail::checkSameShape(op, "dy and forward output", dy.shape, outShape);
  Window w = detail::poolWindow(inputShape, outShape, args);

  LoweredGrad result;
  result.kind = GradKind::AvgPool2dGrad;
  result.inputs = {dy};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  result.rdom = RDom({{0, w.kW}, {0, w.kH}}, detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  Expr validX, validY;
  Expr ox = tapOutput(x, r.x, w.sx, w.px, 1, w.outW, validX);
  Expr oy = tapOutput(y, r.y, w.sy, w.py, 1, w.outH, validY);

  // The forward's divisor of window (ox, oy).
  Expr count =
      detail::avgPoolDivisor(oy, ox, w.inH, w.inW, args, countIncludePad);

  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) += select(
      validX && validY, dy.func(ox, oy, c, n) / cast<float>(count), 0.0f);
  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, inputShape};
  return result;
}

namespace {

/// The most adaptive windows (of `out` over `in`) covering one input
/// index: the extent of the gather over the windows along that axis.
int adaptiveCover(int in, int out) {
  int best = 0;
  for (int64_t t = 0; t < in; ++t) {
    int count = 0;
    for (int64_t o = 0; o < out; ++o)
      count += (o * in) / out <= t && t < ((o + 1) * in + out - 1) / out;
    best = std::max(best, count);
  }
  return best;
}

/// The adaptive windows covering input pixel (x, y): window o spans
/// [floor(o * in / out), ceil((o + 1) * in / out)), so input t is covered
/// by the windows o >= floor(t * out / in) (the first whose end passes t)
/// while start(o) <= t. Sets result.rdom over the most of them; (ox, oy)
/// is the rdom's window, clamped into the output, and `valid` whether it
/// covers (x, y).
struct CoveringWindow {
  Expr ox, oy, valid;
};

CoveringWindow coveringWindow(LoweredGrad &result, const Var &x, const Var &y,
                              int inH, int inW, int outH, int outW,
                              const std::string &name) {
  auto start = detail::adaptiveWindowStart;
  result.rdom =
      RDom({{0, adaptiveCover(inW, outW)}, {0, adaptiveCover(inH, outH)}},
           detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  Expr ox = (x * outW) / inW + r.x, oy = (y * outH) / inH + r.y;
  Expr valid = ox < outW && start(ox, inW, outW) <= x && oy < outH &&
               start(oy, inH, outH) <= y;
  return {min(ox, outW - 1), min(oy, outH - 1), valid};
}

} // namespace

LoweredGrad adaptiveAvgPool2dGrad(const Tensor &dy,
                                  const cnn::shape::Shape &inputShape,
                                  const std::string &name) {
  const char *op = "adaptive_avgpool2d_grad";
  detail::checkTensor(op, "dy", dy);
  detail::checkRank4(op, "input", inputShape);
  if (dy.shape.size() != 4)
    detail::fail(op, "dy must be [N, C, oh, ow], got " +
                         cnn::shape::format(dy.shape));
  cnn::shape::Shape outShape = detail::checkShape(
      op,
      cnn::shape::adaptiveAvgPool2d(inputShape, {dy.shape[2], dy.shape[3]}));
  detail::checkSameShape(op, "dy and forward output", dy.shape, outShape);
  const int inH = int(inputShape[2]), inW = int(inputShape[3]);
  const int outH = int(outShape[2]), outW = int(outShape[3]);

  LoweredGrad result;
  result.kind = GradKind::AdaptiveAvgPool2dGrad;
  result.inputs = {dy};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  auto start = detail::adaptiveWindowStart;
  auto end = detail::adaptiveWindowEnd;
  auto windowSize = [&](const Expr &ox, const Expr &oy) {
    return (end(oy, inH, outH) - start(oy, inH, outH)) *
           (end(ox, inW, outW) - start(ox, inW, outW));
  };
  Func out(detail::funcName(name));
  result.output = {out, inputShape};
  if (adaptiveCover(inW, outW) == 1 && adaptiveCover(inH, outH) == 1) {
    // Windows that tile the input (a global average pool, or sizes that
    // divide): each pixel's gradient is its one window's, with no sum. The
    // pure form lets the schedules inline this broadcast into its readers
    // (isInlinedBroadcast) instead of storing a tensor the size of the
    // input.
    Expr ox = (x * outW) / inW, oy = (y * outH) / inH;
    out(x, y, c, n) = dy.func(ox, oy, c, n) / cast<float>(windowSize(ox, oy));
    return result;
  }
  CoveringWindow w = coveringWindow(result, x, y, inH, inW, outH, outW, name);
  Expr size = windowSize(w.ox, w.oy);
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) +=
      select(w.valid, dy.func(w.ox, w.oy, c, n) / cast<float>(size), 0.0f);
  out(x, y, c, n) = result.accum(x, y, c, n);
  return result;
}

LoweredGrad adaptiveMaxPool2dGrad(const Tensor &input, const Tensor &dy,
                                  const std::string &name) {
  const char *op = "adaptive_maxpool2d_grad";
  detail::checkTensor(op, "input", input);
  detail::checkTensor(op, "dy", dy);
  if (dy.shape.size() != 4)
    detail::fail(op, "dy must be [N, C, oh, ow], got " +
                         cnn::shape::format(dy.shape));
  cnn::shape::Shape outShape = detail::checkShape(
      op,
      cnn::shape::adaptiveMaxPool2d(input.shape, {dy.shape[2], dy.shape[3]}));
  detail::checkSameShape(op, "dy and forward output", dy.shape, outShape);
  const int inH = int(input.shape[2]), inW = int(input.shape[3]);
  const int outH = int(outShape[2]), outW = int(outShape[3]);

  LoweredGrad result;
  result.kind = GradKind::AdaptiveMaxPool2dGrad;
  result.inputs = {input, dy};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];

  // Each window's winner as (max, input index y * W + x), the index -1
  // until the first tap: PyTorch's CPU kernel scans (y, x) in order and
  // takes `val > max || isnan(val)`.
  std::vector<Var> av = detail::makeVars(name + "_argmax", 4);
  Var ax = av[0], ay = av[1], ac = av[2], an = av[3];
  auto start = detail::adaptiveWindowStart;
  auto end = detail::adaptiveWindowEnd;
  RDom t({{0, detail::longestAdaptiveWindow(inW, outW)},
          {0, detail::longestAdaptiveWindow(inH, outH)}},
         detail::funcName(name, "_taps"));
  Expr y0 = start(ay, inH, outH), x0 = start(ax, inW, outW);
  Expr inside = t.x < end(ax, inW, outW) - x0 && t.y < end(ay, inH, outH) - y0;
  Expr iy = min(y0 + t.y, inH - 1), ix = min(x0 + t.x, inW - 1);
  Expr v = input.func(ix, iy, ac, an);
  Func argmax(detail::funcName(name, "_argmax"));
  argmax(ax, ay, ac, an) =
      Tuple(Expr(-std::numeric_limits<float>::infinity()), Expr(-1));
  Expr best = argmax(ax, ay, ac, an)[0], bestIndex = argmax(ax, ay, ac, an)[1];
  Expr take = inside && (bestIndex < 0 || beats(v, best));
  argmax(ax, ay, ac, an) =
      Tuple(select(take, v, best), select(take, iy * inW + ix, bestIndex));
  result.stored = {argmax};

  CoveringWindow w = coveringWindow(result, x, y, inH, inW, outH, outW, name);
  Expr hit = w.valid && argmax(w.ox, w.oy, c, n)[1] == y * inW + x;
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) += select(hit, dy.func(w.ox, w.oy, c, n), 0.0f);
  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, input.shape};
  return result;
}

} // namespace cnnc::hl
