// Max, average and adaptive average and max pooling, PyTorch semantics (floor
// and ceil mode).
#include "Common.h"

#include <algorithm>
#include <limits>

namespace cnnc::hl {

using namespace Halide;

namespace {

using Window = detail::PoolWindow;

/// The parts common to the windowed pools: vars, rdom over the window and
/// the (optionally padded with `padValue`) source.
Func startWindowed(LoweredOp &result, const Tensor &input, const Window &w,
                   float padValue, const std::string &name) {
  result.inputs = {input};
  result.vars = detail::makeVars(name, 4);
  result.rdom = RDom({{0, w.kW}, {0, w.kH}}, detail::funcName(name, "_r"));
  if (!w.readsOutside)
    return input.func;
  // The input is never read out of its bounds.
  result.padded = detail::paddedInput(input, padValue, name);
  return result.padded;
}

} // namespace

LoweredOp maxPool2d(const Tensor &input, const cnn::shape::Pool2dArgs &args,
                    const std::string &name) {
  const char *op = "maxpool2d";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::maxPool2d(input.shape, args));
  Window w = detail::poolWindow(input.shape, outShape, args);

  // PyTorch pads with -inf, so a window that only covers padding (possible
  // with dilation) yields -inf.
  const float negInf = -std::numeric_limits<float>::infinity();
  LoweredOp result;
  result.kind = OpKind::MaxPool2d;
  Func source = startWindowed(result, input, w, negInf, name);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  const RDom &r = result.rdom;

  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = Expr(negInf);
  result.accum(x, y, c, n) =
      max(result.accum(x, y, c, n), source(x * w.sx - w.px + r.x * w.dx,
                                           y * w.sy - w.py + r.y * w.dy, c, n));

  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, outShape};
  return result;
}

LoweredOp avgPool2d(const Tensor &input, const cnn::shape::Pool2dArgs &args,
                    bool countIncludePad, const std::string &name) {
  const char *op = "avgpool2d";
  detail::checkTensor(op, "input", input);
  // The shape rule rejects dilation (PyTorch's AvgPool2d has none).
  cnn::shape::Shape outShape =
      detail::checkShape(op, cnn::shape::avgPool2d(input.shape, args));
  Window w = detail::poolWindow(input.shape, outShape, args);

  LoweredOp result;
  result.kind = OpKind::AvgPool2d;
  Func source = startWindowed(result, input, w, 0.0f, name);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  const RDom &r = result.rdom;

  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) +=
      source(x * w.sx - w.px + r.x, y * w.sy - w.py + r.y, c, n);

  Expr count =
      detail::avgPoolDivisor(y, x, w.inH, w.inW, args, countIncludePad);

  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n) / cast<float>(count);
  result.output = {out, outShape};
  return result;
}

namespace {

/// The windows of the adaptive pools: window i spans [floor(i * in / out),
/// ceil((i + 1) * in / out)), whose length varies with i unless out
/// divides in; the rdom covers the longest.
struct AdaptiveWindows {
  Expr y0, x0, lenY, lenX;
  bool fixed; // out divides in along both axes: every window is full
};

/// Starts the result of an adaptive pool of `input` to `outputSize`: its
/// vars and rdom; returns the tap (r.x, r.y) of window (x, y), `fill` for
/// taps past a shorter window.
Expr startAdaptive(LoweredOp &result, const Tensor &input,
                   cnn::shape::Pair outputSize, float fill,
                   const std::string &name, AdaptiveWindows &w) {
  const int inH = int(input.shape[2]), inW = int(input.shape[3]);
  const int outH = int(outputSize[0]), outW = int(outputSize[1]);
  result.inputs = {input};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  result.rdom = RDom({{0, detail::longestAdaptiveWindow(inW, outW)},
                      {0, detail::longestAdaptiveWindow(inH, outH)}},
                     detail::funcName(name, "_r"));
  const RDom &r = result.rdom;
  w.y0 = detail::adaptiveWindowStart(y, inH, outH);
  w.x0 = detail::adaptiveWindowStart(x, inW, outW);
  w.lenY = detail::adaptiveWindowEnd(y, inH, outH) - w.y0;
  w.lenX = detail::adaptiveWindowEnd(x, inW, outW) - w.x0;
  w.fixed = inH % outH == 0 && inW % outW == 0;
  if (w.fixed)
    return input.func(w.x0 + r.x, w.y0 + r.y, c, n);
  // The clamp keeps the (unused) read of a missing tap inside the input,
  // and a select vectorises where RDom::where would not.
  Expr inside = r.x < w.lenX && r.y < w.lenY;
  return select(
      inside,
      input.func(min(w.x0 + r.x, inW - 1), min(w.y0 + r.y, inH - 1), c, n),
      fill);
}

} // namespace

LoweredOp adaptiveAvgPool2d(const Tensor &input, cnn::shape::Pair outputSize,
                            const std::string &name) {
  const char *op = "adaptive_avgpool2d";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape outShape = detail::checkShape(
      op, cnn::shape::adaptiveAvgPool2d(input.shape, outputSize));
  LoweredOp result;
  result.kind = OpKind::AdaptiveAvgPool2d;
  AdaptiveWindows w;
  Expr tap = startAdaptive(result, input, outputSize, 0.0f, name, w);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = 0.0f;
  result.accum(x, y, c, n) += tap;

  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n) / cast<float>(w.lenY * w.lenX);
  result.output = {out, outShape};
  return result;
}

LoweredOp adaptiveMaxPool2d(const Tensor &input, cnn::shape::Pair outputSize,
                            const std::string &name) {
  const char *op = "adaptive_maxpool2d";
  detail::checkTensor(op, "input", input);
  cnn::shape::Shape outShape = detail::checkShape(
      op, cnn::shape::adaptiveMaxPool2d(input.shape, outputSize));
  const float negInf = -std::numeric_limits<float>::infinity();
  LoweredOp result;
  result.kind = OpKind::AdaptiveMaxPool2d;
  AdaptiveWindows w;
  Expr tap = startAdaptive(result, input, outputSize, negInf, name, w);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum(x, y, c, n) = Expr(negInf);
  result.accum(x, y, c, n) = max(result.accum(x, y, c, n), tap);

  Func out(detail::funcName(name));
  out(x, y, c, n) = result.accum(x, y, c, n);
  result.output = {out, outShape};
  return result;
}

} // namespace cnnc::hl
