#include "Common.h"

#include <algorithm>
#include <stdexcept>

namespace cnnc::hl {

bool isElementwise(OpKind kind) {
  return kind == OpKind::Elementwise || kind == OpKind::BatchNorm2d;
}

namespace detail {

Halide::Func paddedInput(const Tensor &input, float value,
                         const std::string &name) {
  using namespace Halide;
  Func bounded = BoundaryConditions::constant_exterior(
      input.func, value,
      {{0, int(input.shape[3])}, {0, int(input.shape[2])}, Range(), Range()});
  Func padded(funcName(name, "_padded"));
  std::vector<Var> v = makeVars(name + "_p", 4);
  padded(v[0], v[1], v[2], v[3]) = bounded(v[0], v[1], v[2], v[3]);
  return padded;
}

int reductionLanes(int extent, int natural) {
  if (extent <= 2 * natural)
    return extent;
  for (int d = 2 * natural; d >= natural / 2; --d)
    if (extent % d == 0)
      return d;
  return natural;
}

cnn::shape::Shape checkShape(const char *op,
                             const cnn::shape::ShapeResult &result) {
  if (!result.ok())
    throw std::invalid_argument(std::string(op) + ": " + result.error);
  return result.shape;
}

void checkTensor(const char *op, const char *what, const Tensor &t) {
  std::string prefix = std::string(op) + ": " + what + " ";
  if (!t.func.defined())
    throw std::invalid_argument(prefix + "has no Halide definition");
  if (t.func.dimensions() != static_cast<int>(t.shape.size()))
    throw std::invalid_argument(
        prefix + "Func has " + std::to_string(t.func.dimensions()) +
        " dimensions but its shape is " + cnn::shape::format(t.shape));
  if (t.func.outputs() != 1 || t.func.output_types()[0] != Halide::Float(32))
    throw std::invalid_argument(prefix + "must be a float32 Func");
  // Dimension 0 of a weight or bias is static too; only activations carry
  // the dynamic batch, and only there.
  for (size_t i = 1; i < t.shape.size(); ++i)
    if (t.shape[i] < 1)
      throw std::invalid_argument(prefix +
                                  "must have static dimensions "
                                  "after the batch, got shape " +
                                  cnn::shape::format(t.shape));
}

std::vector<Halide::Var> makeVars(const std::string &prefix, size_t rank) {
  static const char *names4[] = {"x", "y", "c", "n"};
  static const char *names2[] = {"f", "n"};
  std::vector<Halide::Var> vars;
  for (size_t i = 0; i < rank; ++i) {
    std::string base = rank == 4   ? names4[i]
                       : rank == 2 ? names2[i]
                                   : "d" + std::to_string(i);
    vars.emplace_back(funcName(prefix + "_" + base));
  }
  return vars;
}

std::string funcName(const std::string &name, const char *suffix) {
  // The plain name the first time ("conv1"), "conv1$1" and so on after:
  // Halide needs distinct names within one pipeline.
  return Halide::Internal::unique_name(name + suffix);
}

int vectorWidth(int natural, int64_t extent) {
  int width = natural;
  while (width > 4 && width / 2 >= extent)
    width /= 2;
  return width;
}

int wholeVectorWidth(int natural, int64_t extent) {
  int width = natural;
  while (width > 1 && width > extent)
    width /= 2;
  return width;
}

Halide::Expr adaptiveWindowStart(const Halide::Expr &o, int in, int out) {
  return (o * in) / out;
}

Halide::Expr adaptiveWindowEnd(const Halide::Expr &o, int in, int out) {
  return ((o + 1) * in + out - 1) / out;
}

int longestAdaptiveWindow(int in, int out) {
  int64_t best = 0;
  for (int64_t i = 0; i < out; ++i)
    best = std::max(best, ((i + 1) * in + out - 1) / out - (i * in) / out);
  return int(best);
}

PoolWindow poolWindow(const cnn::shape::Shape &input,
                      const cnn::shape::Shape &output,
                      const cnn::shape::Pool2dArgs &args) {
  return {int(input[2]),
          int(input[3]),
          int(output[2]),
          int(output[3]),
          int(args.kernel[0]),
          int(args.kernel[1]),
          int(args.stride[0]),
          int(args.stride[1]),
          int(args.padding[0]),
          int(args.padding[1]),
          int(args.dilation[0]),
          int(args.dilation[1]),
          cnn::shape::poolReadsOutside(input, args)};
}

Halide::Expr padSource(const Halide::Expr &p, int extent, int before,
                       cnn::shape::PadMode mode) {
  using Halide::clamp;
  using Halide::select;
  Halide::Expr i = p - before;
  Halide::Expr source;
  switch (mode) {
  case cnn::shape::PadMode::Zeros:
  case cnn::shape::PadMode::Replicate:
    source = i;
    break;
  case cnn::shape::PadMode::Reflect: // -1 -> 1, extent -> extent - 2
    source = select(i < 0, -i, i >= extent, 2 * extent - 2 - i, i);
    break;
  case cnn::shape::PadMode::Circular:
    source = select(i < 0, i + extent, i >= extent, i - extent, i);
    break;
  }
  return clamp(source, 0, extent - 1);
}

Halide::Expr avgPoolDivisor(const Halide::Expr &oy, const Halide::Expr &ox,
                            int inH, int inW,
                            const cnn::shape::Pool2dArgs &args,
                            bool countIncludePad) {
  using Halide::max;
  using Halide::min;
  if (args.divisorOverride)
    return Halide::Expr(int(*args.divisorOverride));
  const int kH = int(args.kernel[0]), kW = int(args.kernel[1]);
  const int sy = int(args.stride[0]), sx = int(args.stride[1]);
  const int py = int(args.padding[0]), px = int(args.padding[1]);
  Halide::Expr y0 = oy * sy - py, x0 = ox * sx - px;
  Halide::Expr y1 = min(y0 + kH, inH + py), x1 = min(x0 + kW, inW + px);
  if (countIncludePad)
    return (y1 - y0) * (x1 - x0);
  return (min(y1, inH) - max(y0, 0)) * (min(x1, inW) - max(x0, 0));
}

} // namespace detail
} // namespace cnnc::hl
