// Backward of pad2d as a gather: each input pixel sums the gradient of the
// padded positions that copy it, one axis at a time (the copies of a mode
// are a product of per-axis maps).
#include "GradientsCommon.h"

#include <functional>

namespace cnnc::hl {

using namespace Halide;

namespace {

/// What input index j of an axis of `extent` receives: `at(p)` summed over
/// the padded positions p in [0, before + extent + after) that copy j.
/// Within the shape rule's limits (reflect pads < extent, circular <=
/// extent) each border adds at most one position, except replicate's,
/// which adds its whole strip to the edge.
Expr foldAxis(const std::function<Expr(Expr)> &at, Expr j, int extent,
              int before, int after, cnn::shape::PadMode mode,
              const std::string &name) {
  using cnn::shape::PadMode;
  Expr total = at(j + before);
  const int last = extent - 1;
  switch (mode) {
  case PadMode::Zeros:
    break;
  case PadMode::Reflect:
    // Position before - j copies j (1 <= j <= before); the right border
    // copies extent - 2 - k at before + extent + k.
    if (before > 0)
      total += select(j >= 1 && j <= before, at(before - j), 0.0f);
    if (after > 0)
      total += select(j >= extent - 1 - after && j <= extent - 2,
                      at(before + 2 * extent - 2 - j), 0.0f);
    break;
  case PadMode::Replicate:
    if (before > 0) {
      RDom r(0, before, detail::funcName(name, "_before"));
      total += select(j == 0, sum(at(r)), 0.0f);
    }
    if (after > 0) {
      RDom r(0, after, detail::funcName(name, "_after"));
      total += select(j == last, sum(at(before + extent + r)), 0.0f);
    }
    break;
  case PadMode::Circular:
    // The left border wraps the last `before` indices, the right border
    // the first `after`.
    if (before > 0)
      total += select(j >= extent - before, at(j - extent + before), 0.0f);
    if (after > 0)
      total += select(j < after, at(before + extent + j), 0.0f);
    break;
  }
  return total;
}

} // namespace

LoweredGrad pad2dGrad(const Tensor &dy, const cnn::shape::Shape &inputShape,
                      const cnn::shape::Pad2dArgs &args,
                      const std::string &name) {
  const char *op = "pad2d_grad";
  detail::checkTensor(op, "dy", dy);
  detail::checkRank4(op, "input", inputShape);
  cnn::shape::Shape padded =
      detail::checkShape(op, cnn::shape::pad2d(inputShape, args));
  detail::checkSameShape(op, "dy and forward output", dy.shape, padded);
  const int H = int(inputShape[2]), W = int(inputShape[3]);
  const int PH = int(padded[2]), PW = int(padded[3]);
  const int top = int(args.begin[0]), left = int(args.begin[1]);
  const int bottom = int(args.end[0]), right = int(args.end[1]);

  LoweredGrad result;
  result.kind = GradKind::Pad2dGrad;
  result.inputs = {dy};
  result.vars = detail::makeVars(name, 4);
  Var x = result.vars[0], y = result.vars[1], c = result.vars[2],
      n = result.vars[3];
  Func out(detail::funcName(name));
  result.output = {out, inputShape};
  if (args.mode == cnn::shape::PadMode::Zeros) {
    out(x, y, c, n) = dy.func(x + left, y + top, c, n);
    return result;
  }

  // Along x into rows of the padded height, then along y. Reads are clamped
  // into the padded extent: select evaluates both sides.
  std::vector<Var> rv = detail::makeVars(name + "_rows", 4);
  Func rows(detail::funcName(name, "_rows"));
  rows(rv[0], rv[1], rv[2], rv[3]) = foldAxis(
      [&](Expr p) { return dy.func(clamp(p, 0, PW - 1), rv[1], rv[2], rv[3]); },
      rv[0], W, left, right, args.mode, name + "_x");
  out(x, y, c, n) =
      foldAxis([&](Expr p) { return rows(x, clamp(p, 0, PH - 1), c, n); }, y, H,
               top, bottom, args.mode, name + "_y");
  result.stored = {rows};
  return result;
}

} // namespace cnnc::hl
