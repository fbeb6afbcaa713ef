#include "Reference.h"

#include "cnnc/halide/Bounds.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cnnc::hl::test {

using Halide::Expr;

Halide::Target hostTarget() {
  static Halide::Target target = Halide::get_jit_target_from_environment();
  return target;
}

// --- tensors -----------------------------------------------------------------

Shape withBatch(Shape shape, int batch) {
  if (!shape.empty() && shape[0] == kDynamic)
    shape[0] = batch;
  return shape;
}

Buf makeBuffer(const Shape &shape) {
  std::vector<int> dims(shape.rbegin(), shape.rend());
  return Buf(dims);
}

Buf toBuf(const DT &t) {
  Buf b = makeBuffer(t.shape);
  for (size_t i = 0; i < t.v.size(); ++i)
    b.data()[i] = float(t.v[i]);
  return b;
}

DT toDT(const Buf &b) {
  Shape shape;
  for (int d = b.dimensions() - 1; d >= 0; --d)
    shape.push_back(b.dim(d).extent());
  DT t(shape);
  forEachPosition(b, [&](const int *pos) {
    size_t o = 0;
    for (int d = b.dimensions() - 1; d >= 0; --d)
      o = o * size_t(b.dim(d).extent()) + size_t(pos[d] - b.dim(d).min());
    t.v[o] = b(pos);
  });
  return t;
}

void forEachPosition(const Buf &b, const std::function<void(const int *)> &fn) {
  const int rank = b.dimensions();
  std::vector<int> pos(size_t(rank) + 1);
  for (int d = 0; d < rank; ++d)
    if (b.dim(d).extent() <= 0)
      return;
  for (int d = 0; d < rank; ++d)
    pos[size_t(d)] = b.dim(d).min();
  for (;;) {
    fn(pos.data());
    int d = 0;
    while (d < rank && ++pos[size_t(d)] == b.dim(d).max() + 1) {
      pos[size_t(d)] = b.dim(d).min();
      ++d;
    }
    if (d == rank)
      return;
  }
}

bool withinTol(double got, double want, double tol) {
  return std::fabs(got - want) <= tol * (1.0 + std::fabs(want));
}

// --- pipeline inputs ---------------------------------------------------------

Input makeInput(const std::string &name, const Shape &shape) {
  static int counter = 0;
  Halide::ImageParam param(Halide::Float(32), int(shape.size()),
                           name + std::to_string(counter++));
  constrainToShape(param, shape);
  Halide::Func f = param;
  return {param, Tensor{f, shape}};
}

std::string pairText(Pair p) {
  return std::to_string(p[0]) + "x" + std::to_string(p[1]);
}

std::string poolText(const Pool2dArgs &a) {
  std::string text = "k " + pairText(a.kernel) + " s " + pairText(a.stride) +
                     " p " + pairText(a.padding) + " d " + pairText(a.dilation);
  if (a.ceilMode)
    text += " ceil";
  if (a.divisorOverride)
    text += " divisor " + std::to_string(*a.divisorOverride);
  return text;
}

Pool2dArgs ceilMode(Pool2dArgs a) {
  a.ceilMode = true;
  return a;
}

// --- double references -------------------------------------------------------

int outSize(int in, int k, int s, int p, int d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

DT refConv(const DT &x, const DT &w, const DT *b, const Conv2dArgs &a) {
  const int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3);
  const int64_t O = w.dim(0), Cg = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  const int64_t Og = O / a.groups;
  const int64_t OH = outSize(int(H), int(KH), int(a.stride[0]),
                             int(a.padding[0]), int(a.dilation[0]));
  const int64_t OW = outSize(int(W), int(KW), int(a.stride[1]),
                             int(a.padding[1]), int(a.dilation[1]));
  DT y({N, O, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = b ? b->v[size_t(o)] : 0.0;
          int64_t g = o / Og;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                int64_t iy =
                    oy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
                int64_t ix =
                    ox * a.stride[1] - a.padding[1] + kx * a.dilation[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue;
                acc += x.at({n, g * Cg + ci, iy, ix}) * w.at({o, ci, ky, kx});
              }
          y.at({n, o, oy, ox}) = acc;
        }
  return y;
}

DT refLinear(const DT &x, const DT &w, const DT *b) {
  const int64_t N = x.dim(0), K = x.dim(1), O = w.dim(0);
  DT y({N, O});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double acc = b ? b->v[size_t(o)] : 0.0;
      for (int64_t k = 0; k < K; ++k)
        acc += x.at({n, k}) * w.at({o, k});
      y.at({n, o}) = acc;
    }
  return y;
}

namespace {
constexpr float kSlope = 0.2f, kAlpha = 0.7f, kLo = -0.4f, kHi = 0.3f;
} // namespace

LoweredOp activationOp(Act act, const Tensor &input) {
  const std::string name = actName(act);
  switch (act) {
  case Act::Relu:
    return elementwise(input, activations::relu, name);
  case Act::Tanh:
    return elementwise(input, activations::tanh, name);
  case Act::Sigmoid:
    return elementwise(input, activations::sigmoid, name);
  case Act::LeakyRelu:
    return elementwise(
        input, [](const Expr &x) { return activations::leakyRelu(x, kSlope); },
        name);
  case Act::Elu:
    return elementwise(
        input, [](const Expr &x) { return activations::elu(x, kAlpha); }, name);
  case Act::Hardtanh:
    return elementwise(
        input, [](const Expr &x) { return activations::hardtanh(x, kLo, kHi); },
        name);
  case Act::Relu6:
    return elementwise(
        input,
        [](const Expr &x) { return activations::hardtanh(x, 0.0f, 6.0f); },
        name);
  case Act::Hardsigmoid:
    return elementwise(input, activations::hardsigmoid, name);
  case Act::Silu:
    return elementwise(input, activations::silu, name);
  case Act::Gelu:
  case Act::GeluTanh: {
    const bool tanh = act == Act::GeluTanh;
    return elementwise(
        input, [tanh](const Expr &x) { return activations::gelu(x, tanh); },
        name);
  }
  case Act::Hardswish:
    break;
  }
  return elementwise(input, activations::hardswish, name);
}

LoweredGrad activationGradOp(Act act, const Tensor &saved, const Tensor &dy) {
  const std::string name = std::string(actName(act)) + "_grad";
  using E = const Expr &;
  switch (act) {
  case Act::Relu:
    return elementwiseGrad(saved, dy, activations::reluGrad, name);
  case Act::Tanh:
    return elementwiseGrad(saved, dy, activations::tanhGrad, name);
  case Act::Sigmoid:
    return elementwiseGrad(saved, dy, activations::sigmoidGrad, name);
  case Act::LeakyRelu:
    return elementwiseGrad(
        saved, dy,
        [](E y, E g) { return activations::leakyReluGrad(y, g, kSlope); },
        name);
  case Act::Elu:
    return elementwiseGrad(
        saved, dy, [](E y, E g) { return activations::eluGrad(y, g, kAlpha); },
        name);
  case Act::Hardtanh:
    return elementwiseGrad(
        saved, dy,
        [](E y, E g) { return activations::hardtanhGrad(y, g, kLo, kHi); },
        name);
  case Act::Relu6:
    return elementwiseGrad(
        saved, dy,
        [](E y, E g) { return activations::hardtanhGrad(y, g, 0.0f, 6.0f); },
        name);
  case Act::Hardsigmoid:
    return elementwiseGrad(saved, dy, activations::hardsigmoidGrad, name);
  case Act::Silu:
    return elementwiseGrad(saved, dy, activations::siluGrad, name);
  case Act::Gelu:
  case Act::GeluTanh: {
    const bool tanh = act == Act::GeluTanh;
    return elementwiseGrad(
        saved, dy,
        [tanh](E x, E g) { return activations::geluGrad(x, g, tanh); }, name);
  }
  case Act::Hardswish:
    break;
  }
  return elementwiseGrad(saved, dy, activations::hardswishGrad, name);
}

bool gradReadsInput(Act act) {
  return act == Act::Relu || act == Act::Silu || act == Act::Gelu ||
         act == Act::GeluTanh || act == Act::Hardswish;
}

const char *actName(Act act) {
  switch (act) {
  case Act::Relu:
    return "relu";
  case Act::Tanh:
    return "tanh";
  case Act::Sigmoid:
    return "sigmoid";
  case Act::LeakyRelu:
    return "leaky_relu";
  case Act::Elu:
    return "elu";
  case Act::Hardtanh:
    return "hardtanh";
  case Act::Relu6:
    return "relu6";
  case Act::Hardsigmoid:
    return "hardsigmoid";
  case Act::Silu:
    return "silu";
  case Act::Gelu:
    return "gelu";
  case Act::GeluTanh:
    return "gelu_tanh";
  case Act::Hardswish:
    break;
  }
  return "hardswish";
}

std::vector<double> actKinks(Act act) {
  switch (act) {
  case Act::Relu:
  case Act::LeakyRelu:
  case Act::Elu:
    return {0.0};
  case Act::Hardtanh:
    return {kLo, kHi};
  case Act::Relu6:
    return {0.0, 6.0};
  case Act::Hardsigmoid:
  case Act::Hardswish:
    return {-3.0, 3.0};
  case Act::Tanh:
  case Act::Sigmoid:
  case Act::Silu:
  case Act::Gelu:
  case Act::GeluTanh:
    break;
  }
  return {};
}

namespace {
/// PyTorch's formulas in double.
double refActivationValue(Act act, double v) {
  switch (act) {
  case Act::Relu:
    return std::max(v, 0.0);
  case Act::Tanh:
    return std::tanh(v);
  case Act::Sigmoid:
    return 1.0 / (1.0 + std::exp(-v));
  case Act::LeakyRelu:
    return v > 0 ? v : v * double(kSlope);
  case Act::Elu:
    return v > 0 ? v : double(kAlpha) * std::expm1(v);
  case Act::Hardtanh:
    return std::min(std::max(v, double(kLo)), double(kHi));
  case Act::Relu6:
    return std::min(std::max(v, 0.0), 6.0);
  case Act::Hardsigmoid:
    return std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
  case Act::Silu:
    return v / (1.0 + std::exp(-v));
  case Act::Gelu:
    return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  case Act::GeluTanh:
    return 0.5 * v *
           (1.0 +
            std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  case Act::Hardswish:
    break;
  }
  return v * std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
}
} // namespace

DT refActivation(Act act, const DT &x) {
  DT y = x;
  for (double &v : y.v)
    v = refActivationValue(act, v);
  return y;
}

namespace {
/// A pool's output extent along axis i (0: height): the shape rule's, which
/// ShapeRulesTest checks against PyTorch's sizes.
int64_t poolOut(int64_t in, const Pool2dArgs &a, int i) {
  return cnn::shape::poolOutputSize(in, a.kernel[i], a.stride[i], a.padding[i],
                                    a.dilation[i], a.ceilMode);
}
} // namespace

DT refMaxPool(const DT &x, const Pool2dArgs &a) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OH = poolOut(H, a, 0), OW = poolOut(W, a, 1);
  DT y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t ky = 0; ky < a.kernel[0]; ++ky)
            for (int64_t kx = 0; kx < a.kernel[1]; ++kx) {
              int64_t iy = oy * a.stride[0] - a.padding[0] + ky * a.dilation[0];
              int64_t ix = ox * a.stride[1] - a.padding[1] + kx * a.dilation[1];
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                m = std::max(m, x.at({n, c, iy, ix}));
            }
          y.at({n, c, oy, ox}) = m;
        }
  return y;
}

DT refAvgPool(const DT &x, const Pool2dArgs &a, bool countIncludePad) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t KH = a.kernel[0], KW = a.kernel[1], SH = a.stride[0],
                SW = a.stride[1], PH = a.padding[0], PW = a.padding[1];
  const int64_t OH = poolOut(H, a, 0), OW = poolOut(W, a, 1);
  DT y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t hs = oy * SH - PH, ws = ox * SW - PW;
          int64_t he = std::min(hs + KH, H + PH),
                  we = std::min(ws + KW, W + PW);
          int64_t poolSize = (he - hs) * (we - ws);
          hs = std::max<int64_t>(hs, 0);
          ws = std::max<int64_t>(ws, 0);
          he = std::min(he, H);
          we = std::min(we, W);
          double sum = 0;
          for (int64_t iy = hs; iy < he; ++iy)
            for (int64_t ix = ws; ix < we; ++ix)
              sum += x.at({n, c, iy, ix});
          const int64_t divisor = a.divisorOverride ? *a.divisorOverride
                                  : countIncludePad ? poolSize
                                                    : (he - hs) * (we - ws);
          y.at({n, c, oy, ox}) = sum / double(divisor);
        }
  return y;
}

DT refCat(const std::vector<DT> &parts, int dim) {
  // Blocks of `inner` elements (the dims after dim), `outer` times.
  int64_t inner = 1;
  for (size_t d = size_t(dim) + 1; d < parts[0].shape.size(); ++d)
    inner *= parts[0].dim(d);
  Shape shape = parts[0].shape;
  shape[size_t(dim)] = 0;
  for (const DT &p : parts)
    shape[size_t(dim)] += p.dim(size_t(dim));
  DT y(shape);
  const int64_t outer =
      int64_t(parts[0].v.size()) / (parts[0].dim(size_t(dim)) * inner);
  size_t o = 0;
  for (int64_t b = 0; b < outer; ++b)
    for (const DT &p : parts) {
      const int64_t block = p.dim(size_t(dim)) * inner;
      for (int64_t i = 0; i < block; ++i)
        y.v[o++] = p.v[size_t(b * block + i)];
    }
  return y;
}

DT refSoftmax(const DT &x, int dim, bool log) {
  // Elements along dim are `stride` apart; `outer` blocks of extent * stride.
  const int64_t extent = x.dim(size_t(dim));
  int64_t stride = 1;
  for (size_t d = size_t(dim) + 1; d < x.shape.size(); ++d)
    stride *= x.dim(d);
  const int64_t outer = int64_t(x.v.size()) / (extent * stride);
  DT y = x;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t s = 0; s < stride; ++s) {
      auto index = [&](int64_t i) {
        return size_t((o * extent + i) * stride + s);
      };
      double sum = 0;
      for (int64_t i = 0; i < extent; ++i)
        sum += std::exp(x.v[index(i)]);
      for (int64_t i = 0; i < extent; ++i)
        y.v[index(i)] =
            log ? x.v[index(i)] - std::log(sum) : std::exp(x.v[index(i)]) / sum;
    }
  return y;
}

DT refPad(const DT &x, const cnn::shape::Pad2dArgs &a) {
  using cnn::shape::PadMode;
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OH = H + a.begin[0] + a.end[0], OW = W + a.begin[1] + a.end[1];
  // PyTorch's definitions: reflect mirrors about the edge element,
  // replicate repeats it, circular wraps modulo the size.
  auto source = [&](int64_t i, int64_t extent) -> int64_t {
    switch (a.mode) {
    case PadMode::Zeros:
      return i >= 0 && i < extent ? i : -1;
    case PadMode::Reflect:
      return i < 0 ? -i : i >= extent ? 2 * (extent - 1) - i : i;
    case PadMode::Replicate:
      return std::clamp<int64_t>(i, 0, extent - 1);
    case PadMode::Circular:
      return ((i % extent) + extent) % extent;
    }
    return -1;
  };
  DT y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          const int64_t iy = source(oy - a.begin[0], H),
                        ix = source(ox - a.begin[1], W);
          y.at({n, c, oy, ox}) = iy < 0 || ix < 0 ? 0.0 : x.at({n, c, iy, ix});
        }
  return y;
}

namespace {
/// Each adaptive window of x reduced by `reduce(values)`.
template <typename Reduce>
DT refAdaptivePool(const DT &x, int64_t OH, int64_t OW, Reduce reduce) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  DT y({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t h0 = int64_t(std::floor(double(oy) * H / OH));
          int64_t h1 = int64_t(std::ceil(double(oy + 1) * H / OH));
          int64_t w0 = int64_t(std::floor(double(ox) * W / OW));
          int64_t w1 = int64_t(std::ceil(double(ox + 1) * W / OW));
          std::vector<double> window;
          for (int64_t iy = h0; iy < h1; ++iy)
            for (int64_t ix = w0; ix < w1; ++ix)
              window.push_back(x.at({n, c, iy, ix}));
          y.at({n, c, oy, ox}) = reduce(window);
        }
  return y;
}
} // namespace

DT refAdaptiveAvgPool(const DT &x, int64_t OH, int64_t OW) {
  return refAdaptivePool(x, OH, OW, [](const std::vector<double> &v) {
    double sum = 0;
    for (double e : v)
      sum += e;
    return sum / double(v.size());
  });
}

DT refAdaptiveMaxPool(const DT &x, int64_t OH, int64_t OW) {
  return refAdaptivePool(x, OH, OW, [](const std::vector<double> &v) {
    return *std::max_element(v.begin(), v.end());
  });
}

DT refFlatten(const DT &x) {
  DT y = x; // C order: the same data, reshaped
  y.shape = {x.dim(0), x.dim(1) * x.dim(2) * x.dim(3)};
  return y;
}

void refChannelStats(const DT &x, DT &mean, DT &var) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const double M = double(N * H * W);
  mean = DT({C});
  var = DT({C});
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t i = 0; i < W; ++i)
          s += x.at({n, c, y, i});
    mean.v[c] = s / M;
    double q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t i = 0; i < W; ++i) {
          double d = x.at({n, c, y, i}) - mean.v[c];
          q += d * d;
        }
    var.v[c] = q / M;
  }
}

DT refBatchNorm(const DT &x, const DT &w, const DT &b, const DT &runningMean,
                const DT &runningVar, double eps, bool training) {
  DT mean = runningMean, var = runningVar;
  if (training)
    refChannelStats(x, mean, var);
  DT y(x.shape);
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t c = 0; c < x.dim(1); ++c)
      for (int64_t i = 0; i < x.dim(2); ++i)
        for (int64_t j = 0; j < x.dim(3); ++j)
          y.at({n, c, i, j}) = (x.at({n, c, i, j}) - mean.v[c]) /
                                   std::sqrt(var.v[c] + eps) * w.v[c] +
                               b.v[c];
  return y;
}

double refCrossEntropy(const DT &logits, const std::vector<int> &labels) {
  const int64_t N = logits.dim(0), K = logits.dim(1);
  double total = 0;
  for (int64_t n = 0; n < N; ++n) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < K; ++k)
      m = std::max(m, logits.at({n, k}));
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += std::exp(logits.at({n, k}) - m);
    total += std::log(s) + m - logits.at({n, labels[size_t(n)]});
  }
  return total / double(N);
}

// --- the same on float buffers -----------------------------------------------

Buf refConv(const Buf &in, const Buf &w, const Buf *bias, const Conv2dArgs &a) {
  DT b = bias ? toDT(*bias) : DT();
  return toBuf(refConv(toDT(in), toDT(w), bias ? &b : nullptr, a));
}

Buf refLinear(const Buf &in, const Buf &w, const Buf *bias) {
  DT b = bias ? toDT(*bias) : DT();
  return toBuf(refLinear(toDT(in), toDT(w), bias ? &b : nullptr));
}

Buf refActivation(Act act, const Buf &in) {
  return toBuf(refActivation(act, toDT(in)));
}

Buf refMaxPool(const Buf &in, const Pool2dArgs &a) {
  return toBuf(refMaxPool(toDT(in), a));
}

Buf refAvgPool(const Buf &in, const Pool2dArgs &a, bool countIncludePad) {
  return toBuf(refAvgPool(toDT(in), a, countIncludePad));
}

Buf refAdaptiveAvgPool(const Buf &in, int OH, int OW) {
  return toBuf(refAdaptiveAvgPool(toDT(in), OH, OW));
}

Buf refAdaptiveMaxPool(const Buf &in, int OH, int OW) {
  return toBuf(refAdaptiveMaxPool(toDT(in), OH, OW));
}

Buf refSoftmax(const Buf &in, int dim, bool log) {
  return toBuf(refSoftmax(toDT(in), dim, log));
}

Buf refPad(const Buf &in, const cnn::shape::Pad2dArgs &a) {
  return toBuf(refPad(toDT(in), a));
}

Buf refFlatten(const Buf &in) { return toBuf(refFlatten(toDT(in))); }

} // namespace cnnc::hl::test
