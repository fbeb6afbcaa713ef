// Numerics of the backward builders (Gradients.h) under the default
// gradient schedule.
//
// Every gradient is checked against central finite differences of a
// double-precision reference forward (Reference.h): with a random
// projection r, the scalar L = sum(forward(...) * r) has dL/dx = backward
// of dy = r, so the Halide backward (float) run with dy = r must match
// (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) computed in double at the
// same (float-valued) inputs. Exact checks where simple: the relu mask, the
// max-pool tie-breaking on hand examples, flatten, SGD against hand values.
//
// Tolerance, |got - want| <= kFdTol * (1 + |want|) with kFdTol = 1e-4:
//  - FD error: conv, linear, pools and flatten are linear in the
//    differentiated operand, so the central difference is exact up to
//    double rounding, ~|L| 1e-16 / eps = 1e-13 with eps = 1e-3. For tanh,
//    sigmoid and the cross entropy the truncation error is
//    eps^2 / 6 |f'''| <= ~1e-7. Max pool and relu are piecewise linear;
//    their inputs are kept further than eps from every kink (distinct
//    values on a grid of 1/64 for max pool, |x| >= 0.05 for relu).
//  - Halide's float error: each gradient element sums at most ~150
//    products of operands in [-1, 1]; float32 accumulation error is then
//    ~sqrt(150) * 2^-24 * |sum| ~ 1e-6 typically, 1e-5 at worst in
//    practice. 1e-4 leaves a margin of 10 over that and is still 10^3
//    below any indexing mistake (an O(0.1..1) error).
//
// As in HalideOpsTest, JIT compiles dominate: cases are batched into one
// multi-output pipeline per test, realised for batches 1 and 3.
#include "Reference.h"

#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"
#include "cnnc/halide/Gradients.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace cnnc::hl;
using namespace cnnc::hl::test;

constexpr double kFdTol = 1e-4;
constexpr double kEps = 1e-3;
const std::vector<int> kBatches = {1, 3};

// --- double tensors (DT, Reference.h) ----------------------------------------

/// Uniform values in [lo, hi), rounded to float (what Halide sees).
DT randomDT(const Shape &shape, std::mt19937 &rng, float lo = -1.0f,
            float hi = 1.0f) {
  DT t(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (double &x : t.v)
    x = dist(rng);
  return t;
}

/// Values with |x| in [0.05, 1), random sign: no relu kink within eps.
DT awayFromZero(const Shape &shape, std::mt19937 &rng) {
  DT t(shape);
  std::uniform_real_distribution<float> mag(0.05f, 1.0f);
  std::bernoulli_distribution sign(0.5);
  for (double &x : t.v)
    x = sign(rng) ? mag(rng) : -mag(rng);
  return t;
}

/// Distinct values on a grid of 1/64 (exact in float), shuffled: no two
/// values of a max-pool window within 2 eps of each other.
DT distinctValues(const Shape &shape, std::mt19937 &rng) {
  DT t(shape);
  std::vector<int> order(t.v.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < t.v.size(); ++i)
    t.v[i] = (order[i] - double(t.v.size()) / 2) / 64.0;
  return t;
}

double dot(const DT &a, const DT &b) {
  EXPECT_EQ(a.v.size(), b.v.size());
  double s = 0;
  for (size_t i = 0; i < a.v.size(); ++i)
    s += a.v[i] * b.v[i];
  return s;
}

/// Central finite differences of L wrt every element of `t` (which L reads
/// by reference).
DT finiteDiff(const std::function<double()> &L, DT &t, double eps = kEps) {
  DT g(t.shape);
  for (size_t i = 0; i < t.v.size(); ++i) {
    double saved = t.v[i];
    t.v[i] = saved + eps;
    double plus = L();
    t.v[i] = saved - eps;
    double minus = L();
    t.v[i] = saved;
    g.v[i] = (plus - minus) / (2 * eps);
  }
  return g;
}

// --- pipelines ---------------------------------------------------------------

/// The run-time batch of an activation input (its outermost Halide dim).
Halide::Expr batchOf(const Input &in) {
  return in.param.dim(int(in.tensor.shape.size()) - 1).extent();
}

void set(Input &in, const DT &t) { in.param.set(toBuf(t)); }

/// One output of a multi-output pipeline. `prepare` draws the case's inputs
/// for a batch, sets its ImageParams and returns the expected result.
struct GradCase {
  std::string label;
  Tensor output;
  std::function<DT(int batch, std::mt19937 &rng)> prepare;
  double tol = kFdTol;
};

void expectNear(const Buf &got, const DT &want, const std::string &what,
                double tol) {
  ASSERT_EQ(size_t(got.number_of_elements()), want.v.size()) << what;
  int bad = 0;
  std::string first;
  for (size_t i = 0; i < want.v.size(); ++i) {
    double w = want.v[i], g = got.data()[i];
    if (withinTol(g, w, tol))
      continue;
    if (bad++ == 0) {
      std::ostringstream os;
      os << "at flat index " << i << " got " << g << " want " << w;
      first = os.str();
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches, first " << first;
}

/// Scheduled for the host, or for `machine` (the host's vectors with other
/// cache sizes) when given.
Halide::Pipeline
compileCases(std::vector<LoweredGrad> &grads, std::vector<GradCase> &cases,
             const std::optional<MachineModel> &machine = std::nullopt) {
  std::vector<Halide::Func> outputs;
  for (GradCase &c : cases) {
    constrainToShape(c.output.func.output_buffer(), c.output.shape);
    outputs.push_back(c.output.func);
  }
  // As a training step's pipeline: only the realized results are outputs,
  // so results read by one element-wise gradient are fused into it.
  if (machine)
    applyDefaultGradientSchedule(grads, *machine, updatesOfGradients(grads),
                                 outputs);
  else
    applyDefaultGradientSchedule(grads, hostTarget(), outputs);
  Halide::Pipeline pipeline(outputs);
  pipeline.compile_jit(hostTarget());
  return pipeline;
}

void checkCases(Halide::Pipeline &pipeline, std::vector<GradCase> &cases,
                std::mt19937 &rng, const std::vector<int> &batches = kBatches) {
  for (int batch : batches) {
    std::vector<DT> expected;
    std::vector<Halide::Buffer<>> results;
    for (GradCase &c : cases) {
      expected.push_back(c.prepare(batch, rng));
      results.push_back(makeBuffer(withBatch(c.output.shape, batch)));
    }
    Halide::Realization realization(results);
    pipeline.realize(realization);
    for (size_t i = 0; i < cases.size(); ++i)
      expectNear(Buf(results[i]), expected[i],
                 cases[i].label + " batch " + std::to_string(batch),
                 cases[i].tol);
  }
}

void runCases(std::vector<LoweredGrad> &grads, std::vector<GradCase> &cases,
              std::mt19937 &rng) {
  Halide::Pipeline pipeline = compileCases(grads, cases);
  checkCases(pipeline, cases, rng);
}

// --- Conv2d
// --------------------------------------------------------------------

struct ConvSpec {
  int C, H, W, O, KH, KW;
  Pair stride, padding, dilation;
  int groups;
};

/// dx, dw and db of one conv, each against FD of the double conv.
void addConvCases(const ConvSpec &s, std::vector<LoweredGrad> &grads,
                  std::vector<GradCase> &cases) {
  std::ostringstream os;
  os << "conv in " << s.C << "x" << s.H << "x" << s.W << " out " << s.O << " k "
     << s.KH << "x" << s.KW << " s " << pairText(s.stride) << " p "
     << pairText(s.padding) << " d " << pairText(s.dilation) << " g "
     << s.groups;
  const std::string label = os.str();
  Conv2dArgs args{s.stride, s.padding, s.dilation, s.groups};
  Shape xShape{kDynamic, s.C, s.H, s.W};
  Shape wShape{s.O, s.C / s.groups, s.KH, s.KW};
  Shape yShape = cnn::shape::conv2d(xShape, wShape, std::nullopt, args).shape;

  // dx needs dy and w; dw needs x and dy; db needs dy. Separate inputs per
  // case keep the cases independent.
  Input dy1 = makeInput("dy", yShape), w1 = makeInput("w", wShape);
  grads.push_back(conv2dInputGrad(dy1.tensor, w1.tensor, xShape, args));
  GradCase dx{label + " dx", grads.back().output, nullptr};
  dx.prepare = [=](int batch, std::mt19937 &rng) mutable {
    DT x = randomDT(withBatch(xShape, batch), rng);
    DT w = randomDT(wShape, rng);
    DT b = randomDT({s.O}, rng);
    DT r = randomDT(withBatch(yShape, batch), rng);
    set(dy1, r);
    set(w1, w);
    return finiteDiff([&] { return dot(refConv(x, w, &b, args), r); }, x);
  };
  cases.push_back(dx);

  Input x2 = makeInput("x", xShape), dy2 = makeInput("dy", yShape);
  grads.push_back(
      conv2dWeightGrad(x2.tensor, dy2.tensor, wShape, args, batchOf(x2)));
  EXPECT_EQ(grads.back().output.shape, wShape);
  GradCase dw{label + " dw", grads.back().output, nullptr};
  dw.prepare = [=](int batch, std::mt19937 &rng) mutable {
    DT x = randomDT(withBatch(xShape, batch), rng);
    DT w = randomDT(wShape, rng);
    DT r = randomDT(withBatch(yShape, batch), rng);
    set(x2, x);
    set(dy2, r);
    return finiteDiff([&] { return dot(refConv(x, w, nullptr, args), r); }, w);
  };
  cases.push_back(dw);

  Input dy3 = makeInput("dy", yShape);
  grads.push_back(biasGrad(dy3.tensor, batchOf(dy3)));
  GradCase db{label + " db", grads.back().output, nullptr};
  db.prepare = [=](int batch, std::mt19937 &rng) mutable {
    DT x = randomDT(withBatch(xShape, batch), rng);
    DT w = randomDT(wShape, rng);
    DT b = randomDT({s.O}, rng);
    DT r = randomDT(withBatch(yShape, batch), rng);
    set(dy3, r);
    return finiteDiff([&] { return dot(refConv(x, w, &b, args), r); }, b);
  };
  cases.push_back(db);
}

TEST(GradConv2d, PaddingStrideDilationGroups) {
  std::mt19937 rng(1);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const std::vector<ConvSpec> specs = {
      {2, 5, 6, 3, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1}, // plain
      {2, 6, 7, 3, 3, 2, {1, 1}, {1, 2}, {1, 1}, 1}, // padding
      {2, 7, 6, 2, 3, 3, {2, 3}, {1, 0}, {1, 1}, 1}, // stride
      {2, 6, 5, 2, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1}, // stride skips pixels
      {2, 7, 7, 2, 2, 3, {1, 1}, {2, 1}, {2, 3}, 1}, // dilation
      {4, 6, 7, 6, 3, 2, {2, 1}, {1, 2}, {2, 1}, 2}, // all + groups
      {3, 7, 5, 3, 2, 3, {2, 2}, {1, 1}, {2, 1}, 3}, // depthwise
      {3, 5, 6, 6, 3, 3, {1, 2}, {2, 1}, {1, 1}, 3}, // channel multiplier
      // Wide rows: the weight gradient's ox lanes split the row (40 = 2 x
      // 20) or leave a guarded chunk (35), for vectors up to 16 floats.
      {2, 4, 42, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      {1, 3, 37, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
  };
  for (const ConvSpec &s : specs)
    addConvCases(s, grads, cases);
  runCases(grads, cases, rng);
}

// The weight gradient's rows summed in chunks of kWeightGradRowChunk (16)
// pixels: chunks that divide the row (32 = 2 x 16), a last chunk shifted
// inwards over pixels already counted (28 = 16 + 12, 35 = 2 x 16 + 3 with
// padding, 20 = 16 + 4 with stride and padding), a row narrower than a
// chunk (whole rows), and strided rows of 32, 18 and 18.
TEST(GradConv2d, WeightGradRowChunks) {
  std::mt19937 rng(11);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const std::vector<ConvSpec> specs = {
      {2, 4, 34, 3, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      {3, 5, 32, 4, 5, 5, {1, 1}, {0, 0}, {1, 1}, 1},
      {2, 4, 35, 2, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1},
      {2, 5, 20, 2, 3, 3, {2, 1}, {1, 1}, {1, 1}, 1},
      {2, 4, 9, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      // Strided along x: the input stored by phase, 2 phases with taps 3
      // columns apart, 3 phases, and 2 of an unpadded input (its last
      // phase reaches past the input).
      {2, 4, 70, 2, 3, 5, {1, 2}, {1, 3}, {1, 3}, 1},
      {1, 3, 52, 2, 2, 5, {1, 3}, {0, 2}, {1, 1}, 1},
      {2, 4, 37, 2, 3, 3, {1, 2}, {0, 0}, {1, 1}, 1},
  };
  static_assert(kWeightGradRowChunk == 16, "the widths above assume 16");
  for (const ConvSpec &s : specs)
    addConvCases(s, grads, cases);
  runCases(grads, cases, rng);
}

// Rows no wider than a chunk and output channels filling whole vectors (16
// and 32 are whole vectors of 8 and 16 floats): the weight gradient is
// vectorised over the output channels, in tiles of taps (blocks of input
// channels and of kernel rows) of one or two vectors, with a transposed
// copy of dy. Padding, strides, dilation and a 1x1 conv go
// through it; a grouped conv of 16 outputs does not (its input channel
// depends on the output channel) and keeps the row schedule.
TEST(GradConv2d, WeightGradOverOutputChannels) {
  std::mt19937 rng(17);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const std::vector<ConvSpec> specs = {
      {6, 6, 7, 16, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1},
      {8, 7, 6, 32, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1},
      {3, 5, 6, 16, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1},
      {2, 7, 6, 16, 2, 3, {1, 1}, {1, 0}, {2, 1}, 1},
      {4, 5, 5, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2},
  };
  for (const ConvSpec &s : specs)
    addConvCases(s, grads, cases);
  runCases(grads, cases, rng);
}

// Rows wider than a chunk whose input and output channels fill whole chunks
// (16): the weight gradient sums whole rows (rdom (ox, oy, n)), vectorised
// over the output channels in tiles of taps. With the host's caches each
// tile sums the whole batch in registers; with an L2 that holds the block's
// dy of a few images (a block of 16 channels), the block sums the batch in
// passes of two or three images (batch 3: a short last pass or one whole
// pass), each pass's tiles in parallel.
TEST(GradConv2d, WeightGradOverOutputChannelsOfWideRows) {
  const std::vector<ConvSpec> specs = {
      {16, 2, 17, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1},
      {16, 1, 33, 16, 1, 3, {1, 2}, {0, 1}, {1, 1}, 1},
  };
  for (bool passes : {false, true}) {
    std::mt19937 rng(passes ? 23 : 29);
    std::vector<LoweredGrad> grads;
    std::vector<GradCase> cases;
    int64_t largestPlane = 0;
    for (const ConvSpec &s : specs) {
      addConvCases(s, grads, cases);
      const LoweredGrad &dw = grads.at(grads.size() - 2);
      ASSERT_EQ(dw.kind, GradKind::Conv2dWeightGrad);
      EXPECT_EQ(dw.rdom.dimensions(), 3) << "whole rows, not chunks";
      const Shape &dy = dw.inputs.at(1).shape;
      largestPlane = std::max(largestPlane, dy[2] * dy[3]);
    }
    // Half of L2 holds two images of the larger plane's block (16 channels),
    // and four of the smaller one's (34 and 17 pixels).
    MachineModel machine = cpuMachineModelOrThrow(hostTarget());
    machine.l2Bytes = 2 * 2 * 16 * largestPlane * int64_t(sizeof(float));
    Halide::Pipeline pipeline = compileCases(
        grads, cases, passes ? std::optional(machine) : std::nullopt);
    checkCases(pipeline, cases, rng);
  }
}

// Strided convs whose input channels fill whole vectors (16 and 32 are
// whole vectors of 8 and 16 floats): the input gradient is vectorised over
// the input channels, in tiles of pixels of even extents with every tap
// unrolled, reading a copy of the weights with the channels innermost;
// where a tile does not divide an even side (with AVX-512, 4-row tiles over
// 6, 10 and 14 rows and 6-wide ones over 14: ResNet-18's 14 x 14 plane) the
// last one is shifted inwards. Stride 2 with 3x3 and 1x1 kernels, padding,
// dilation, a plane wider than a vector and stride 2 in one dim only go
// through it; stride 1 (14 x 4, 7 x 7), a plane of odd sides (no even tile),
// a grouped conv (16 input channels per group of 32) and a 5x5 kernel (more
// taps than unrolled) do not.
TEST(GradConv2d, InputGradOverInputChannels) {
  std::mt19937 rng(19);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const std::vector<ConvSpec> specs = {
      {16, 4, 14, 2, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1},
      {16, 6, 6, 2, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1},
      {16, 6, 6, 2, 3, 3, {1, 2}, {1, 0}, {1, 1}, 1},
      {16, 20, 18, 2, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1},
      {16, 14, 14, 2, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1},
      {32, 7, 7, 2, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1},
      {16, 6, 6, 3, 1, 1, {2, 2}, {0, 0}, {1, 1}, 1},
      {16, 10, 6, 2, 3, 3, {2, 2}, {2, 2}, {2, 2}, 1},
      {16, 7, 7, 2, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1},
      {32, 6, 6, 4, 3, 3, {2, 2}, {1, 1}, {1, 1}, 2},
      {16, 6, 6, 2, 5, 5, {2, 2}, {2, 2}, {1, 1}, 1},
  };
  for (const ConvSpec &s : specs)
    addConvCases(s, grads, cases);
  runCases(grads, cases, rng);
}

// Stride-1 input gradients whose taps read dy's zero rows often (at least a
// fifth of the row taps) skip them through a predicate on the reduction:
// LeNet's conv2 (one register tile of the whole plane with AVX-512), a
// plane taller than the register budget (two unrolled tiles of rows),
// channels in whole vectors (the channel-vector schedule, the predicate a
// branch), a plane small enough to look strided (pixel tiles, a branch too),
// and dilation with padding.
TEST(GradConv2d, InputGradSkipsZeroRows) {
  std::mt19937 rng(23);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const std::vector<ConvSpec> specs = {
      {6, 14, 14, 4, 5, 5, {1, 1}, {0, 0}, {1, 1}, 1},
      {2, 28, 8, 2, 7, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      {16, 6, 6, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      {16, 4, 4, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1},
      {3, 9, 5, 2, 3, 2, {1, 1}, {1, 0}, {2, 1}, 1},
  };
  for (const ConvSpec &s : specs)
    addConvCases(s, grads, cases);
  runCases(grads, cases, rng);
}

// --- Linear
// --------------------------------------------------------------------

TEST(GradLinear, InputWeightBias) {
  std::mt19937 rng(2);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (auto [in, out] : {std::pair<int, int>{5, 3}, {37, 10}, {16, 17}}) {
    const std::string label =
        "linear " + std::to_string(in) + " -> " + std::to_string(out);
    Shape xShape{kDynamic, in}, wShape{out, in}, yShape{kDynamic, out};

    Input dy1 = makeInput("dy", yShape), w1 = makeInput("w", wShape);
    grads.push_back(linearInputGrad(dy1.tensor, w1.tensor));
    EXPECT_EQ(grads.back().output.shape, xShape);
    GradCase dx{label + " dx", grads.back().output, nullptr};
    dx.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng), w = randomDT(wShape, rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(dy1, r);
      set(w1, w);
      return finiteDiff([&] { return dot(refLinear(x, w, nullptr), r); }, x);
    };
    cases.push_back(dx);

    Input x2 = makeInput("x", xShape), dy2 = makeInput("dy", yShape);
    grads.push_back(linearWeightGrad(x2.tensor, dy2.tensor, batchOf(x2)));
    EXPECT_EQ(grads.back().output.shape, wShape);
    GradCase dw{label + " dW", grads.back().output, nullptr};
    dw.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng), w = randomDT(wShape, rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(x2, x);
      set(dy2, r);
      return finiteDiff([&] { return dot(refLinear(x, w, nullptr), r); }, w);
    };
    cases.push_back(dw);

    Input dy3 = makeInput("dy", yShape);
    grads.push_back(biasGrad(dy3.tensor, batchOf(dy3)));
    GradCase db{label + " db", grads.back().output, nullptr};
    db.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng), w = randomDT(wShape, rng);
      DT b = randomDT({out}, rng), r = randomDT(withBatch(yShape, batch), rng);
      set(dy3, r);
      return finiteDiff([&] { return dot(refLinear(x, w, &b), r); }, b);
    };
    cases.push_back(db);
  }
  runCases(grads, cases, rng);
}

TEST(GradLinear, BlockedWeightAndInputGradTails) {
  // The weight gradient's register tiles: in_features off a multiple of the
  // tile (ShiftInwards), below one vector, and out features below / off the
  // output block; the input gradient's tiles; batches off the sample block.
  std::mt19937 rng(22);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (auto [in, out] : {std::pair<int, int>{100, 13},
                         {3, 30},
                         {200, 7},
                         {97, 50},
                         {16, 1},
                         {130, 6}}) {
    const std::string label =
        "linear " + std::to_string(in) + " -> " + std::to_string(out);
    Shape xShape{kDynamic, in}, wShape{out, in}, yShape{kDynamic, out};

    Input dy1 = makeInput("dy", yShape), w1 = makeInput("w", wShape);
    grads.push_back(linearInputGrad(dy1.tensor, w1.tensor));
    GradCase dx{label + " dx", grads.back().output, nullptr};
    dx.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng), w = randomDT(wShape, rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(dy1, r);
      set(w1, w);
      return finiteDiff([&] { return dot(refLinear(x, w, nullptr), r); }, x);
    };
    cases.push_back(dx);

    Input x2 = makeInput("x", xShape), dy2 = makeInput("dy", yShape);
    grads.push_back(linearWeightGrad(x2.tensor, dy2.tensor, batchOf(x2)));
    GradCase dw{label + " dW", grads.back().output, nullptr};
    dw.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng), w = randomDT(wShape, rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(x2, x);
      set(dy2, r);
      return finiteDiff([&] { return dot(refLinear(x, w, nullptr), r); }, w);
    };
    cases.push_back(dw);
  }
  Halide::Pipeline pipeline = compileCases(grads, cases);
  checkCases(pipeline, cases, rng, {1, 5, 9});
}

// --- activations, flatten
// ----------------------------------------------------------

/// Uniform in [-8, 8], moved at least 0.05 away from `kinks` (where the
/// derivative jumps, finite differences would straddle them).
DT awayFromKinks(const Shape &shape, std::mt19937 &rng,
                 const std::vector<double> &kinks) {
  DT t = randomDT(shape, rng, -8.0f, 8.0f);
  for (double &x : t.v)
    for (double k : kinks)
      if (std::abs(x - k) < 0.05)
        x = k + (x < k ? -0.05 : 0.05) + (x - k);
  return t;
}

TEST(GradActivation, EveryActivationAgainstFiniteDifferences) {
  std::mt19937 rng(3);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (Act kind : kEveryAct)
    for (Shape shape : {Shape{kDynamic, 3, 4, 19}, Shape{kDynamic, 23}}) {
      Input saved = makeInput("saved", shape), dy = makeInput("dy", shape);
      grads.push_back(activationGradOp(kind, saved.tensor, dy.tensor));
      GradCase c{std::string(actName(kind)) + "_grad " +
                     cnn::shape::format(shape),
                 grads.back().output, nullptr};
      c.prepare = [=](int batch, std::mt19937 &rng) mutable {
        Shape s = withBatch(shape, batch);
        DT x = kind == Act::Relu ? awayFromZero(s, rng)
               : kind == Act::Tanh || kind == Act::Sigmoid
                   ? randomDT(s, rng, -3.0f, 3.0f)
                   : awayFromKinks(s, rng, actKinks(kind));
        DT r = randomDT(s, rng);
        set(saved, gradReadsInput(kind) ? x : refActivation(kind, x));
        set(dy, r);
        return finiteDiff([&] { return dot(refActivation(kind, x), r); }, x);
      };
      cases.push_back(c);
    }

  // Exact: the relu mask, with x == 0 (PyTorch's gradient there is 0) and
  // -0.0, tiny and huge values.
  Shape shape{kDynamic, 8};
  Input x = makeInput("x", shape), dy = makeInput("dy", shape);
  grads.push_back(activationGradOp(Act::Relu, x.tensor, dy.tensor));
  GradCase mask{"relu mask", grads.back().output, nullptr, 0.0};
  mask.prepare = [=](int batch, std::mt19937 &rng) mutable {
    const double xs[8] = {0.0, -0.0, 1e-30, -1e-30, 5.0, -5.0, 1e30, -1e30};
    DT xt(withBatch(shape, batch)), r = randomDT(withBatch(shape, batch), rng);
    DT want(xt.shape);
    for (size_t i = 0; i < xt.v.size(); ++i) {
      xt.v[i] = xs[i % 8];
      want.v[i] = xs[i % 8] > 0 ? r.v[i] : 0.0;
    }
    set(x, xt);
    set(dy, r);
    return want;
  };
  cases.push_back(mask);

  // At the kinks themselves, PyTorch's one-sided choices: leaky_relu and
  // elu take the negative side (slope, alpha), hardtanh, relu6 and
  // hardsigmoid give 0 at their limits, hardswish x / 3 + 1/2 at both.
  for (Act kind : {Act::LeakyRelu, Act::Elu, Act::Hardtanh, Act::Relu6,
                   Act::Hardsigmoid, Act::Hardswish}) {
    Input y = makeInput("y", shape), g = makeInput("g", shape);
    grads.push_back(activationGradOp(kind, y.tensor, g.tensor));
    GradCase atKinks{std::string(actName(kind)) + " at its kinks",
                     grads.back().output, nullptr, 1e-6};
    atKinks.prepare = [=](int batch, std::mt19937 &rng) mutable {
      const std::vector<double> kinks = actKinks(kind);
      DT xt(withBatch(shape, batch)), r = randomDT(xt.shape, rng);
      DT want(xt.shape);
      for (size_t i = 0; i < xt.v.size(); ++i) {
        xt.v[i] = kinks[i % kinks.size()];
        const double slope = kind == Act::LeakyRelu   ? 0.2
                             : kind == Act::Elu       ? 0.7
                             : kind == Act::Hardswish ? xt.v[i] / 3 + 0.5
                                                      : 0.0;
        want.v[i] = slope * r.v[i];
      }
      set(y, gradReadsInput(kind) ? xt : refActivation(kind, xt));
      set(g, r);
      return want;
    };
    cases.push_back(atKinks);
  }
  runCases(grads, cases, rng);
}

TEST(GradReshape, FlattenGradUnflattensInCOrder) {
  std::mt19937 rng(4);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (Shape shape : {Shape{kDynamic, 3, 5, 7}, Shape{kDynamic, 16, 1, 1}}) {
    Shape flat{kDynamic, shape[1] * shape[2] * shape[3]};
    Input dy = makeInput("dy", flat);
    grads.push_back(flattenGrad(dy.tensor, shape));
    EXPECT_EQ(grads.back().output.shape, shape);
    GradCase c{"flatten grad " + cnn::shape::format(shape), grads.back().output,
               nullptr, 0.0};
    c.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT r = randomDT(withBatch(flat, batch), rng);
      set(dy, r);
      DT want = r; // the same C-order data, reshaped
      want.shape = withBatch(shape, batch);
      return want;
    };
    cases.push_back(c);
  }
  runCases(grads, cases, rng);
}

// --- pooling
// ---------------------------------------------------------------------

TEST(GradPooling, MaxPoolAgainstFiniteDifferences) {
  std::mt19937 rng(5);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  struct Spec {
    int H, W;
    Pool2dArgs args;
  };
  const std::vector<Spec> specs = {
      {8, 8, {{2, 2}, {2, 2}, {0, 0}, {1, 1}}}, // LeNet's: tiling windows
      {7, 9, {{2, 2}, {2, 2}, {0, 0}, {1, 1}}}, // tiling, last row/col left out
      {6, 7, {{3, 2}, {3, 2}, {0, 0}, {1, 1}}}, // tiling, rectangular
      {7, 9, {{3, 3}, {2, 2}, {1, 1}, {1, 1}}}, // ResNet's stem: overlap
      {7, 9, {{3, 2}, {1, 2}, {1, 1}, {1, 1}}}, // stride 1: heavy overlap
      {9, 7, {{3, 3}, {2, 1}, {1, 0}, {2, 2}}}, // dilation
      {5, 8, {{2, 3}, {3, 3}, {1, 1}, {1, 1}}}, // stride > kernel: gaps
      // ceil_mode windows past the edge: tiling, overlapping, dilated
      {7, 9, ceilMode({{2, 2}, {2, 2}, {0, 0}, {1, 1}})},
      {6, 7, ceilMode({{3, 3}, {2, 2}, {1, 1}, {1, 1}})},
      {8, 7, ceilMode({{2, 3}, {3, 2}, {0, 1}, {2, 1}})},
  };
  for (const Spec &s : specs) {
    Shape xShape{kDynamic, 2, s.H, s.W};
    Shape yShape = cnn::shape::maxPool2d(xShape, s.args).shape;
    Input x = makeInput("x", xShape), dy = makeInput("dy", yShape);
    grads.push_back(maxPool2dGrad(x.tensor, dy.tensor, s.args));
    GradCase c{"maxpool grad " + std::to_string(s.H) + "x" +
                   std::to_string(s.W) + " " + poolText(s.args),
               grads.back().output, nullptr};
    Pool2dArgs args = s.args;
    c.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT xt = distinctValues(withBatch(xShape, batch), rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(x, xt);
      set(dy, r);
      return finiteDiff([&] { return dot(refMaxPool(xt, args), r); }, xt);
    };
    cases.push_back(c);
  }
  runCases(grads, cases, rng);
}

TEST(GradPooling, MaxPoolRoutesToFirstMaximum) {
  // Hand examples of PyTorch's tie-breaking (batch 1, one channel, dy =
  // [[1, 2], [4, 8]]), exact:
  //  - ties, 3x3 input, k 2 s 1: each window's first maximum in (ky, kx)
  //    scan order wins; overlapping windows add (3 = 1 + 2);
  //  - all -inf, k 3 s 2 p 1: nothing beats the initial -inf, so the first
  //    in-bounds tap of each window wins, never the padding;
  //  - NaN: `val > max || isnan(val)` makes the last NaN of a window win
  //    (window (0, 1) holds two NaNs and routes its 2 to the second, which
  //    also gets window (1, 1)'s 8: 10).
  struct Example {
    std::vector<double> x;
    Pool2dArgs args;
    std::vector<double> dx;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Example> examples = {
      {{1, 3, 3, 3, 2, 3, 0, 3, 1},
       {{2, 2}, {1, 1}, {0, 0}, {1, 1}},
       {0, 3, 0, 4, 0, 8, 0, 0, 0}},
      {{-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf},
       {{3, 3}, {2, 2}, {1, 1}, {1, 1}},
       {1, 2, 0, 4, 8, 0, 0, 0, 0}},
      {{-1, -1, -1, -1, -1, -1, -1, -1, -1},
       {{3, 3}, {2, 2}, {1, 1}, {1, 1}},
       {1, 2, 0, 4, 8, 0, 0, 0, 0}},
      {{1, nan, 0, 3, 2, nan, 0, 0, 0},
       {{2, 2}, {1, 1}, {0, 0}, {1, 1}},
       {0, 1, 0, 4, 0, 10, 0, 0, 0}},
  };
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (size_t e = 0; e < examples.size(); ++e) {
    Shape xShape{kDynamic, 1, 3, 3};
    Shape yShape = cnn::shape::maxPool2d(xShape, examples[e].args).shape;
    ASSERT_EQ(yShape, (Shape{kDynamic, 1, 2, 2}));
    Input x = makeInput("x", xShape), dy = makeInput("dy", yShape);
    grads.push_back(maxPool2dGrad(x.tensor, dy.tensor, examples[e].args));
    GradCase c{"maxpool tie example " + std::to_string(e), grads.back().output,
               nullptr, 0.0};
    Example ex = examples[e];
    c.prepare = [=](int batch, std::mt19937 &) mutable {
      DT xt({1, 1, 3, 3}), r({1, 1, 2, 2}), want({1, 1, 3, 3});
      xt.v = ex.x;
      r.v = {1, 2, 4, 8};
      want.v = ex.dx;
      (void)batch;
      set(x, xt);
      set(dy, r);
      return want;
    };
    cases.push_back(c);
  }
  std::mt19937 rng(6);
  Halide::Pipeline pipeline = compileCases(grads, cases);
  checkCases(pipeline, cases, rng, {1});
}

// PyTorch's adaptive max-pool ties, by hand (3x3 -> 2x2: overlapping
// windows [0, 2) and [1, 3) along each axis; dy = [[1, 2], [4, 8]]): each
// window's first maximum in (y, x) order wins; the last NaN of a window
// wins (torch 2.x's CPU kernel gives exactly these dx).
TEST(GradPooling, AdaptiveMaxPoolRoutesToFirstMaximum) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<std::vector<double>, std::vector<double>>>
      examples = {
          {{1, 3, 3, 3, 2, 3, 0, 3, 1}, {0, 3, 0, 4, 0, 8, 0, 0, 0}},
          {{1, nan, 0, 3, 2, nan, 0, 0, 0}, {0, 1, 0, 4, 0, 10, 0, 0, 0}}};
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  for (size_t e = 0; e < examples.size(); ++e) {
    Shape xShape{kDynamic, 1, 3, 3}, yShape{kDynamic, 1, 2, 2};
    Input x = makeInput("x", xShape), dy = makeInput("dy", yShape);
    grads.push_back(adaptiveMaxPool2dGrad(x.tensor, dy.tensor));
    GradCase c{"adaptive maxpool tie example " + std::to_string(e),
               grads.back().output, nullptr, 0.0};
    auto example = examples[e];
    c.prepare = [=](int, std::mt19937 &) mutable {
      DT xt({1, 1, 3, 3}), r({1, 1, 2, 2}), want({1, 1, 3, 3});
      xt.v = example.first;
      r.v = {1, 2, 4, 8};
      want.v = example.second;
      set(x, xt);
      set(dy, r);
      return want;
    };
    cases.push_back(c);
  }
  std::mt19937 rng(16);
  Halide::Pipeline pipeline = compileCases(grads, cases);
  checkCases(pipeline, cases, rng, {1});
}

TEST(GradPooling, AvgPoolAgainstFiniteDifferences) {
  std::mt19937 rng(7);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  Pool2dArgs divided({3, 2}, {2, 2}, {1, 0}, {1, 1});
  divided.divisorOverride = 5;
  const std::vector<Pool2dArgs> specs = {
      {{2, 2}, {2, 2}, {0, 0}, {1, 1}},
      {{3, 3}, {2, 2}, {1, 1}, {1, 1}},
      {{3, 2}, {1, 2}, {1, 1}, {1, 1}},
      {{4, 3}, {3, 1}, {2, 0}, {1, 1}},
      ceilMode({{2, 2}, {2, 2}, {0, 0}, {1, 1}}),
      ceilMode({{4, 4}, {3, 3}, {2, 1}, {1, 1}}),
      ceilMode(divided),
  };
  for (const Pool2dArgs &args : specs)
    for (bool includePad : {true, false}) {
      Shape xShape{kDynamic, 2, 7, 9};
      Shape yShape = cnn::shape::avgPool2d(xShape, args).shape;
      Input dy = makeInput("dy", yShape);
      grads.push_back(avgPool2dGrad(dy.tensor, xShape, args, includePad));
      GradCase c{"avgpool grad " + poolText(args) +
                     (includePad ? " count_include_pad" : " exclude pad"),
                 grads.back().output, nullptr};
      c.prepare = [=](int batch, std::mt19937 &rng) mutable {
        DT x = randomDT(withBatch(xShape, batch), rng);
        DT r = randomDT(withBatch(yShape, batch), rng);
        set(dy, r);
        return finiteDiff(
            [&] { return dot(refAvgPool(x, args, includePad), r); }, x);
      };
      cases.push_back(c);
    }
  struct Adaptive {
    int H, W, OH, OW;
  };
  for (bool max : {false, true})
    for (Adaptive s : std::vector<Adaptive>{{5, 7, 1, 1},
                                            {5, 7, 3, 2},
                                            {6, 4, 3, 2},
                                            {4, 4, 6, 5},
                                            {7, 19, 2, 17}}) {
      Shape xShape{kDynamic, 2, s.H, s.W}, yShape{kDynamic, 2, s.OH, s.OW};
      Input x = makeInput("x", xShape), dy = makeInput("dy", yShape);
      grads.push_back(max ? adaptiveMaxPool2dGrad(x.tensor, dy.tensor)
                          : adaptiveAvgPool2dGrad(dy.tensor, xShape));
      GradCase c{std::string(max ? "adaptive maxpool" : "adaptive avgpool") +
                     " grad " + std::to_string(s.H) + "x" +
                     std::to_string(s.W) + " -> " + std::to_string(s.OH) + "x" +
                     std::to_string(s.OW),
                 grads.back().output, nullptr};
      c.prepare = [=](int batch, std::mt19937 &rng) mutable {
        // Distinct values: no ties for the max's gradient to break.
        DT xt = distinctValues(withBatch(xShape, batch), rng);
        DT r = randomDT(withBatch(yShape, batch), rng);
        set(x, xt);
        set(dy, r);
        return finiteDiff(
            [&] {
              return dot(max ? refAdaptiveMaxPool(xt, s.OH, s.OW)
                             : refAdaptiveAvgPool(xt, s.OH, s.OW),
                         r);
            },
            xt);
      };
      cases.push_back(c);
    }
  runCases(grads, cases, rng);
}

// --- padding
// ---------------------------------------------------------------------------

TEST(GradPadding, EveryModeAgainstFiniteDifferences) {
  using cnn::shape::PadMode;
  std::mt19937 rng(10);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  std::vector<cnn::shape::Pad2dArgs> specs;
  for (PadMode mode : {PadMode::Zeros, PadMode::Reflect, PadMode::Replicate,
                       PadMode::Circular}) {
    specs.push_back({{1, 0}, {2, 1}, mode});
    specs.push_back({{0, 2}, {3, 0}, mode});
  }
  specs.push_back({{4, 3}, {4, 3}, PadMode::Reflect});
  specs.push_back({{5, 4}, {5, 4}, PadMode::Circular});
  specs.push_back({{7, 6}, {2, 9}, PadMode::Replicate});
  for (const cnn::shape::Pad2dArgs &args : specs) {
    Shape xShape{kDynamic, 2, 5, 4};
    Shape yShape = cnn::shape::pad2d(xShape, args).shape;
    Input dy = makeInput("dy", yShape);
    grads.push_back(pad2dGrad(dy.tensor, xShape, args));
    GradCase c{std::string("pad2d grad ") + cnn::shape::padModeName(args.mode) +
                   " begin " + pairText(args.begin) + " end " +
                   pairText(args.end),
               grads.back().output, nullptr};
    c.prepare = [=](int batch, std::mt19937 &rng) mutable {
      DT x = randomDT(withBatch(xShape, batch), rng);
      DT r = randomDT(withBatch(yShape, batch), rng);
      set(dy, r);
      return finiteDiff([&] { return dot(refPad(x, args), r); }, x);
    };
    cases.push_back(c);
  }
  runCases(grads, cases, rng);
}

// --- loss
// ------------------------------------------------------------------------------

TEST(GradLoss, SoftmaxCrossEntropyValueAndGradient) {
  std::mt19937 rng(8);
  std::vector<LoweredGrad> grads;
  std::vector<GradCase> cases;
  const int K = 10;
  Shape shape{kDynamic, K};
  // Logits up to +-30: exp overflows float past 88 without the row max,
  // and the float sum would lose the small terms without it.
  for (Halide::Type labelType : {Halide::Int(32), Halide::Int(64)}) {
    std::string tag = labelType == Halide::Int(32) ? " int32" : " int64";
    Input logits = makeInput("logits", shape);
    Halide::ImageParam labels(labelType, 1, "labels" + tag.substr(1));
    labels.dim(0).set_min(0);
    Halide::Expr batch = batchOf(logits);
    Halide::Param<float> dloss("dloss" + tag.substr(1));

    auto draw = [=](int batch, std::mt19937 &rng) mutable {
      DT l = randomDT(withBatch(shape, batch), rng, -30.0f, 30.0f);
      std::uniform_int_distribution<int> cls(0, K - 1);
      std::vector<int> y(static_cast<size_t>(batch));
      for (int &v : y)
        v = cls(rng);
      set(logits, l);
      if (labelType == Halide::Int(32)) {
        Halide::Buffer<int32_t> b(batch);
        for (int n = 0; n < batch; ++n)
          b(n) = y[size_t(n)];
        labels.set(b);
      } else {
        Halide::Buffer<int64_t> b(batch);
        for (int n = 0; n < batch; ++n)
          b(n) = y[size_t(n)];
        labels.set(b);
      }
      return std::make_pair(l, y);
    };

    // The loss and its gradient read the same inputs: drawn once per batch
    // by the loss case, reused by the gradient case (cases run in order).
    auto shared = std::make_shared<std::pair<DT, std::vector<int>>>();
    grads.push_back(softmaxCrossEntropy(logits.tensor, labels, batch));
    EXPECT_TRUE(grads.back().output.shape.empty());
    GradCase loss{"cross entropy loss" + tag, grads.back().output, nullptr,
                  1e-5};
    loss.prepare = [=](int batch, std::mt19937 &rng) mutable {
      *shared = draw(batch, rng);
      DT want(Shape{});
      want.v = {refCrossEntropy(shared->first, shared->second)};
      return want;
    };
    cases.push_back(loss);

    grads.push_back(
        softmaxCrossEntropyGrad(logits.tensor, labels, batch, dloss));
    GradCase grad{"cross entropy grad" + tag, grads.back().output, nullptr};
    grad.prepare = [=](int, std::mt19937 &) mutable {
      dloss.set(0.5f);
      DT l = shared->first;
      std::vector<int> y = shared->second;
      return finiteDiff([&] { return 0.5 * refCrossEntropy(l, y); }, l);
    };
    cases.push_back(grad);
  }
  runCases(grads, cases, rng);
}

// --- SGD
// -----------------------------------------------------------------------------------

TEST(GradOptimizer, SgdMatchesPyTorchHandValues) {
  // p = [1, -2, 0.5], lr 0.1, momentum 0.9, weight decay 0.01; gradients
  // [0.1, 0.2, -0.3] then [-0.2, 0.4, 0.1]. By hand (PyTorch's rule):
  //  step 1: g' = g + wd p = [0.11, 0.18, -0.295] = v1
  //          plain:    p1 = p - lr v1 = [0.989, -2.018, 0.5295]
  //          nesterov: p1 = p - lr (g' + mu v1) = [0.9791, -2.0342, 0.55605]
  //  step 2: plain:    g' = [-0.19011, 0.37982, 0.105295],
  //                    v2 = mu v1 + g' = [-0.09111, 0.54182, -0.160205],
  //                    p2 = [0.998111, -2.072182, 0.5455205]
  //          nesterov: g' = [-0.190209, 0.379658, 0.1055605],
  //                    v2 = [-0.091209, 0.541658, -0.1599395],
  //                    p2 = p1 - lr (g' + mu v2)
  //                       = [1.00632971, -2.12091502, 0.559888505]
  Shape shape{3};
  Input p = makeInput("p", shape), g = makeInput("g", shape),
        v = makeInput("v", shape);
  SgdHyper hyper;
  hyper.lr = Halide::Param<float>("lr");
  Halide::Param<float> mu("mu"), wd("wd");
  Halide::Param<bool> first("first");
  hyper.momentum = mu;
  hyper.weightDecay = wd;
  hyper.firstStep = first;
  std::vector<LoweredGrad> grads;
  grads.push_back(sgdUpdate(p.tensor, g.tensor, &v.tensor, hyper));
  hyper.nesterov = true;
  grads.push_back(sgdUpdate(p.tensor, g.tensor, &v.tensor, hyper));
  grads.push_back(sgdUpdate(p.tensor, g.tensor, nullptr, hyper));
  ASSERT_EQ(grads[0].extraOutputs.size(), 1u);
  ASSERT_EQ(grads[2].extraOutputs.size(), 0u);
  std::vector<Halide::Func> outputs = {
      grads[0].output.func, grads[0].extraOutputs[0].func, grads[1].output.func,
      grads[1].extraOutputs[0].func, grads[2].output.func};
  for (Halide::Func &f : outputs)
    constrainToShape(f.output_buffer(), shape);
  applyDefaultGradientSchedule(grads, hostTarget());
  Halide::Pipeline pipeline(outputs);
  pipeline.compile_jit(hostTarget());

  auto buf = [](std::vector<float> values) {
    Buf b(int(values.size()));
    for (size_t i = 0; i < values.size(); ++i)
      b(int(i)) = values[i];
    return b;
  };
  auto expectValues = [](const Buf &got, std::vector<double> want,
                         const std::string &what) {
    for (int i = 0; i < 3; ++i)
      EXPECT_NEAR(got(i), want[size_t(i)], 1e-6 * (1 + std::fabs(want[i])))
          << what << " [" << i << "]";
  };
  // Runs one step of every variant; p and v per variant.
  auto step = [&](Buf pPlain, Buf vPlain, Buf pNest, Buf vNest, Buf grad,
                  bool isFirst) {
    std::vector<Buf> out;
    for (int i = 0; i < 5; ++i)
      out.emplace_back(3);
    hyper.lr.set(0.1f);
    mu.set(0.9f);
    wd.set(0.01f);
    first.set(isFirst);
    g.param.set(grad);
    // Two realizations: the variants read different p / v.
    p.param.set(pPlain);
    v.param.set(vPlain);
    pipeline.realize({out[0], out[1], out[2], out[3], out[4]});
    std::vector<Buf> nest;
    for (int i = 0; i < 5; ++i)
      nest.emplace_back(3);
    p.param.set(pNest);
    v.param.set(vNest);
    pipeline.realize({nest[0], nest[1], nest[2], nest[3], nest[4]});
    return std::vector<Buf>{out[0], out[1], nest[2], nest[3]};
  };
  Buf p0 = buf({1.0f, -2.0f, 0.5f});
  Buf garbage = buf({std::nanf(""), 1e30f, -7.0f}); // ignored on step 1
  std::vector<Buf> s1 =
      step(p0, garbage, p0, garbage, buf({0.1f, 0.2f, -0.3f}), true);
  expectValues(s1[0], {0.989, -2.018, 0.5295}, "plain p1");
  expectValues(s1[1], {0.11, 0.18, -0.295}, "plain v1");
  expectValues(s1[2], {0.9791, -2.0342, 0.55605}, "nesterov p1");
  expectValues(s1[3], {0.11, 0.18, -0.295}, "nesterov v1");
  std::vector<Buf> s2 =
      step(s1[0], s1[1], s1[2], s1[3], buf({-0.2f, 0.4f, 0.1f}), false);
  expectValues(s2[0], {0.998111, -2.072182, 0.5455205}, "plain p2");
  expectValues(s2[1], {-0.09111, 0.54182, -0.160205}, "plain v2");
  expectValues(s2[2], {1.00632971, -2.12091502, 0.559888505}, "nesterov p2");
  expectValues(s2[3], {-0.091209, 0.541658, -0.1599395}, "nesterov v2");

  // Momentum 0 (run time): p - lr (g + wd p), v unchanged; lr is a run-time
  // parameter (no recompile).
  std::vector<Buf> out;
  for (int i = 0; i < 5; ++i)
    out.emplace_back(3);
  hyper.lr.set(0.5f);
  mu.set(0.0f);
  wd.set(0.0f);
  first.set(false);
  p.param.set(buf({1.0f, -2.0f, 0.5f}));
  v.param.set(buf({3.0f, 4.0f, 5.0f}));
  g.param.set(buf({0.1f, 0.2f, -0.3f}));
  pipeline.realize({out[0], out[1], out[2], out[3], out[4]});
  expectValues(out[0], {0.95, -2.1, 0.65}, "momentum 0 p");
  expectValues(out[1], {3, 4, 5}, "momentum 0 v");
  expectValues(out[2], {0.95, -2.1, 0.65}, "momentum 0 nesterov p");
  expectValues(out[4], {0.95, -2.1, 0.65}, "no velocity p");
}

TEST(GradOptimizer, SgdMomentumRank2And4AgainstReference) {
  // With momentum, the new parameter and velocity of a rank >= 2 parameter
  // share their parallel loop (compute_with): both against a double
  // reference, plain and Nesterov, on sizes off the vector width.
  std::mt19937 rng(7);
  SgdHyper hyper;
  hyper.lr = Halide::Param<float>("lr");
  Halide::Param<float> mu("mu"), wd("wd");
  Halide::Param<bool> first("first");
  hyper.momentum = mu;
  hyper.weightDecay = wd;
  hyper.firstStep = first;
  for (const Shape &shape : {Shape{5, 37}, Shape{3, 2, 3, 5}}) {
    Input p = makeInput("p", shape), g = makeInput("g", shape),
          v = makeInput("v", shape);
    std::vector<LoweredGrad> grads;
    hyper.nesterov = false;
    grads.push_back(sgdUpdate(p.tensor, g.tensor, &v.tensor, hyper));
    hyper.nesterov = true;
    grads.push_back(sgdUpdate(p.tensor, g.tensor, &v.tensor, hyper));
    std::vector<Halide::Func> outputs;
    for (LoweredGrad &u : grads) {
      outputs.push_back(u.output.func);
      outputs.push_back(u.extraOutputs.at(0).func);
    }
    for (Halide::Func &f : outputs)
      constrainToShape(f.output_buffer(), shape);
    applyDefaultGradientSchedule(grads, hostTarget());
    Halide::Pipeline pipeline(outputs);
    pipeline.compile_jit(hostTarget());

    DT pv = randomDT(shape, rng), gv = randomDT(shape, rng),
       vv = randomDT(shape, rng);
    set(p, pv);
    set(g, gv);
    set(v, vv);
    hyper.lr.set(0.1f);
    mu.set(0.9f);
    wd.set(0.01f);
    first.set(false);
    std::vector<Buf> out;
    for (int i = 0; i < 4; ++i)
      out.push_back(makeBuffer(shape));
    pipeline.realize({out[0], out[1], out[2], out[3]});
    DT plain(shape), nest(shape), vel(shape);
    for (size_t i = 0; i < pv.v.size(); ++i) {
      const double gd = gv.v[i] + 0.01 * pv.v[i];
      vel.v[i] = 0.9 * vv.v[i] + gd;
      plain.v[i] = pv.v[i] - 0.1 * vel.v[i];
      nest.v[i] = pv.v[i] - 0.1 * (gd + 0.9 * vel.v[i]);
    }
    const std::string label = "sgd " + cnn::shape::format(shape);
    expectNear(out[0], plain, label + " plain p", 1e-5);
    expectNear(out[1], vel, label + " plain v", 1e-5);
    expectNear(out[2], nest, label + " nesterov p", 1e-5);
    expectNear(out[3], vel, label + " nesterov v", 1e-5);
  }
}

TEST(GradOptimizer, SgdFusedIntoConvWeightGradientTiles) {
  // A conv weight gradient read by its SGD update is computed tile by tile
  // in the update's loops: for output channels in whole vectors (16, 32)
  // the tiles are of output channels and whole kernels (the update reads
  // each kernel's taps as one vector), else (6 outputs) blocks of x lanes;
  // 16 input channels with an L2 that holds two images of dy sum the batch
  // in passes, the update reading the block's stored sums. With a velocity
  // (the new parameter computed with it) and without one, at batches 1 and
  // 3, against the double gradient and SGD step.
  std::mt19937 rng(23);
  SgdHyper hyper;
  hyper.lr = Halide::Param<float>("lr");
  Halide::Param<float> mu("mu");
  hyper.momentum = mu;
  struct Case {
    Shape x;
    int O;
    bool inPasses;
  };
  const Shape narrow{kDynamic, 4, 6, 7}, wide{kDynamic, 16, 2, 40};
  for (const Case &c : {Case{narrow, 16, false}, Case{narrow, 32, false},
                        Case{narrow, 6, false}, Case{wide, 16, true}})
    for (bool withVelocity : {true, false}) {
      const Shape &xS = c.x;
      const int O = c.O;
      Conv2dArgs args{{1, 2}, {1, 1}, {1, 1}, 1};
      const Shape wS{O, xS[1], 3, 3};
      const Shape yS = cnn::shape::conv2d(xS, wS, std::nullopt, args).shape;
      Input x = makeInput("x", xS), dy = makeInput("dy", yS),
            p = makeInput("p", wS), v = makeInput("v", wS);
      std::vector<LoweredGrad> grads;
      grads.push_back(conv2dWeightGrad(x.tensor, dy.tensor, wS, args,
                                       batchOf(x), "conv_dw"));
      Tensor dw = grads.back().output;
      grads.push_back(
          sgdUpdate(p.tensor, dw, withVelocity ? &v.tensor : nullptr, hyper));
      std::vector<Halide::Func> outputs{grads.back().output.func};
      if (withVelocity)
        outputs.push_back(grads.back().extraOutputs.at(0).func);
      for (Halide::Func &f : outputs)
        constrainToShape(f.output_buffer(), wS);
      MachineModel machine = cpuMachineModelOrThrow(hostTarget());
      if (c.inPasses) // two images of a block of 16 channels
        machine.l2Bytes = 2 * 2 * 16 * yS[2] * yS[3] * int64_t(sizeof(float));
      applyDefaultGradientSchedule(grads, machine, updatesOfGradients(grads),
                                   outputs);
      Halide::Pipeline pipeline(outputs);
      pipeline.compile_jit(hostTarget());
      hyper.lr.set(0.1f);
      mu.set(0.9f);
      for (int batch : kBatches) {
        DT xv = randomDT(withBatch(xS, batch), rng),
           r = randomDT(withBatch(yS, batch), rng), w = randomDT(wS, rng),
           pv = randomDT(wS, rng), vv = randomDT(wS, rng);
        set(x, xv);
        set(dy, r);
        set(p, pv);
        set(v, vv);
        DT g = finiteDiff([&] { return dot(refConv(xv, w, nullptr, args), r); },
                          w);
        DT newP(wS), newV(wS);
        for (size_t i = 0; i < pv.v.size(); ++i) {
          newV.v[i] = withVelocity ? 0.9 * vv.v[i] + g.v[i] : vv.v[i];
          newP.v[i] = pv.v[i] - 0.1 * (withVelocity ? newV.v[i] : g.v[i]);
        }
        std::vector<Buf> out{makeBuffer(wS), makeBuffer(wS)};
        const std::string label = "C " + std::to_string(xS[1]) + " O " +
                                  std::to_string(O) +
                                  (withVelocity ? " velocity" : " plain") +
                                  " batch " + std::to_string(batch);
        if (withVelocity) {
          pipeline.realize({out[0], out[1]});
          expectNear(out[1], newV, label + " v", 1e-4);
        } else {
          pipeline.realize({out[0]});
        }
        expectNear(out[0], newP, label + " p", 1e-4);
      }
    }
}

// --- a whole backward pass
// ---------------------------------------------------------

/// A two-layer network of the chain tests (a conv or a linear layer, then
/// a linear classifier): its input, parameters and labels, drawn per batch
/// by the first case, and its loss in double.
struct TwoLayerNet {
  DT x, w1, b1, w2, b2;
  std::vector<int> labels;
  std::function<double(const TwoLayerNet &)> loss;

  /// Draws x (batch n), the parameters (b1 in [-0.2, 0.2)) and labels in
  /// [0, classes), in that order, and sets `labelsParam`.
  void draw(int n, const Shape &xS, const Shape &w1S, const Shape &w2S,
            Halide::ImageParam &labelsParam, std::mt19937 &rng) {
    x = randomDT(withBatch(xS, n), rng);
    w1 = randomDT(w1S, rng);
    b1 = randomDT({w1S[0]}, rng, -0.2f, 0.2f);
    w2 = randomDT(w2S, rng);
    b2 = randomDT({w2S[0]}, rng);
    labels.resize(size_t(n));
    std::uniform_int_distribution<int> cls(0, int(w2S[0]) - 1);
    for (int &v : labels)
      v = cls(rng);
    Halide::Buffer<int32_t> lb(n);
    for (int i = 0; i < n; ++i)
      lb(i) = labels[size_t(i)];
    labelsParam.set(lb);
  }
};

/// A case checking `out` against finite differences (step `eps`) of the
/// net's loss wrt one of its tensors, as drawn by an earlier case.
GradCase finiteDiffCase(const std::string &label, Tensor out,
                        std::shared_ptr<TwoLayerNet> net,
                        DT TwoLayerNet::*field, double eps) {
  GradCase c{label, out, nullptr};
  c.prepare = [=](int, std::mt19937 &) {
    TwoLayerNet &s = *net;
    return finiteDiff([&] { return s.loss(s); }, s.*field, eps);
  };
  return c;
}

TEST(GradPipeline, SmallNetworkBackwardChain) {
  // conv(p 1) -> relu -> maxpool -> flatten -> linear -> cross entropy: the
  // backward ops chained in one pipeline as an autodiff pass would emit
  // them (each gradient reads the previous one's result), the saved forward
  // activations passed in. Every parameter gradient and dx against FD of
  // the double network. eps 1e-5 here: the network is piecewise linear up
  // to the (smooth) loss, and the smaller step keeps the perturbed forward
  // off the relu / max-pool kinks (truncation error ~eps^2, rounding
  // ~1e-16 / eps = 1e-11).
  const int64_t C = 2, H = 6, W = 6, O = 3, K = 4, F = O * 3 * 3;
  Conv2dArgs convArgs{{1, 1}, {1, 1}, {1, 1}, 1};
  Pool2dArgs poolArgs{{2, 2}, {2, 2}, {0, 0}, {1, 1}};
  Shape xS{kDynamic, C, H, W}, yS{kDynamic, O, H, W}, mS{kDynamic, O, 3, 3},
      fS{kDynamic, F}, lS{kDynamic, K};
  Shape w1S{O, C, 3, 3}, w2S{K, F};
  Input x = makeInput("x", xS), y1 = makeInput("y1", yS),
        a1 = makeInput("a1", yS), flat = makeInput("flat", fS),
        logits = makeInput("logits", lS), w1 = makeInput("w1", w1S),
        w2 = makeInput("w2", w2S);
  Halide::ImageParam labels(Halide::Int(32), 1, "chain_labels");
  Halide::Expr batch = batchOf(x);

  std::vector<LoweredGrad> grads;
  auto add = [&](LoweredGrad g) {
    grads.push_back(std::move(g));
    return grads.back().output;
  };
  Tensor loss = add(softmaxCrossEntropy(logits.tensor, labels, batch));
  Tensor dLogits = add(softmaxCrossEntropyGrad(logits.tensor, labels, batch));
  Tensor dFlat = add(linearInputGrad(dLogits, w2.tensor));
  Tensor dW2 = add(linearWeightGrad(flat.tensor, dLogits, batch));
  Tensor db2 = add(biasGrad(dLogits, batch));
  Tensor dM = add(flattenGrad(dFlat, mS));
  Tensor dA = add(maxPool2dGrad(a1.tensor, dM, poolArgs));
  Tensor dY = add(activationGradOp(Act::Relu, y1.tensor, dA));
  Tensor dW1 = add(conv2dWeightGrad(x.tensor, dY, w1S, convArgs, batch));
  Tensor db1 = add(biasGrad(dY, batch));
  Tensor dX = add(conv2dInputGrad(dY, w1.tensor, xS, convArgs));

  auto net = std::make_shared<TwoLayerNet>();
  net->loss = [](const TwoLayerNet &s) {
    DT y = refConv(s.x, s.w1, &s.b1, Conv2dArgs{{1, 1}, {1, 1}, {1, 1}, 1});
    DT m = refMaxPool(refActivation(Act::Relu, y),
                      Pool2dArgs{{2, 2}, {2, 2}, {0, 0}, {1, 1}});
    return refCrossEntropy(refLinear(refFlatten(m), s.w2, &s.b2), s.labels);
  };
  const double eps = 1e-5;
  std::vector<GradCase> cases;
  // The first case draws the network and sets every input; the others
  // differentiate it (cases run in order).
  cases.push_back({"chain loss", loss, nullptr, 1e-5});
  cases.back().prepare = [=](int n, std::mt19937 &rng) mutable {
    TwoLayerNet &s = *net;
    s.draw(n, xS, w1S, w2S, labels, rng);
    // The saved forward activations, as a training step keeps them.
    DT y = refConv(s.x, s.w1, &s.b1, convArgs);
    DT a = refActivation(Act::Relu, y);
    DT m = refMaxPool(a, poolArgs);
    m.shape = withBatch(fS, n);
    set(x, s.x);
    set(y1, y);
    set(a1, a);
    set(flat, m);
    set(logits, refLinear(m, s.w2, &s.b2));
    set(w1, s.w1);
    set(w2, s.w2);
    DT want(Shape{});
    want.v = {s.loss(s)};
    return want;
  };
  cases.push_back(finiteDiffCase("chain dW2", dW2, net, &TwoLayerNet::w2, eps));
  cases.push_back(finiteDiffCase("chain db2", db2, net, &TwoLayerNet::b2, eps));
  cases.push_back(finiteDiffCase("chain dW1", dW1, net, &TwoLayerNet::w1, eps));
  cases.push_back(finiteDiffCase("chain db1", db1, net, &TwoLayerNet::b1, eps));
  cases.push_back(finiteDiffCase("chain dx", dX, net, &TwoLayerNet::x, eps));
  // The unflatten and the max-pool gradient are computed in the relu
  // gradient's loops (grads: loss, dLogits, dFlat, dW2, db2, dM, dA, dY...).
  std::vector<Halide::Func> outputs;
  for (const GradCase &c : cases)
    outputs.push_back(c.output.func);
  const std::vector<std::optional<size_t>> fused =
      backwardFusion(grads, outputs);
  EXPECT_EQ(fused.at(5), std::optional<size_t>(6)) << "unflatten";
  EXPECT_EQ(fused.at(6), std::optional<size_t>(7)) << "max-pool gradient";
  EXPECT_EQ(fused.at(2), std::nullopt) << "read by the unflatten";
  for (size_t i : {0, 1, 3, 4, 7, 8, 9, 10})
    EXPECT_EQ(fused.at(i), std::nullopt) << "grads[" << i << "]";
  std::mt19937 rng(9);
  runCases(grads, cases, rng);
}

TEST(GradPipeline, PerceptronInputGradientComputedInTheReluGradient) {
  // linear -> relu -> linear -> cross entropy, on widths off the vector
  // width: the second linear's input gradient is read by the relu gradient
  // alone and computed per sample in its loop; the parameter gradients and
  // dx against FD of the double network. Not fused when it is an output.
  const int64_t F = 37, Hd = 19, K = 5;
  Shape xS{kDynamic, F}, hS{kDynamic, Hd}, lS{kDynamic, K};
  Shape w1S{Hd, F}, w2S{K, Hd};
  Input x = makeInput("x", xS), y1 = makeInput("y1", hS),
        a1 = makeInput("a1", hS), logits = makeInput("logits", lS),
        w1 = makeInput("w1", w1S), w2 = makeInput("w2", w2S);
  Halide::ImageParam labels(Halide::Int(32), 1, "mlp_labels");
  Halide::Expr batch = batchOf(x);

  std::vector<LoweredGrad> grads;
  auto add = [&](LoweredGrad g) {
    grads.push_back(std::move(g));
    return grads.back().output;
  };
  Tensor dLogits = add(softmaxCrossEntropyGrad(logits.tensor, labels, batch));
  Tensor dA = add(linearInputGrad(dLogits, w2.tensor));
  Tensor dW2 = add(linearWeightGrad(a1.tensor, dLogits, batch));
  Tensor dY = add(activationGradOp(Act::Relu, y1.tensor, dA));
  Tensor dW1 = add(linearWeightGrad(x.tensor, dY, batch));
  Tensor db1 = add(biasGrad(dY, batch));
  Tensor dX = add(linearInputGrad(dY, w1.tensor));

  EXPECT_EQ(
      backwardFusion(grads, {dW2.func, dW1.func, db1.func, dX.func}).at(1),
      std::optional<size_t>(3));
  EXPECT_EQ(backwardFusion(grads, {dA.func, dW1.func}).at(1), std::nullopt);

  auto net = std::make_shared<TwoLayerNet>();
  net->loss = [](const TwoLayerNet &s) {
    DT h = refActivation(Act::Relu, refLinear(s.x, s.w1, &s.b1));
    return refCrossEntropy(refLinear(h, s.w2, &s.b2), s.labels);
  };
  const double eps = 1e-5; // as the chain above: off the relu kinks
  std::vector<GradCase> cases;
  // The first case draws the network and sets every input.
  cases.push_back(finiteDiffCase("mlp dW2", dW2, net, &TwoLayerNet::w2, eps));
  cases.back().prepare =
      [=, fd = cases.back().prepare](int n, std::mt19937 &rng) mutable {
        TwoLayerNet &s = *net;
        s.draw(n, xS, w1S, w2S, labels, rng);
        DT y = refLinear(s.x, s.w1, &s.b1);
        DT a = refActivation(Act::Relu, y);
        set(x, s.x);
        set(y1, y);
        set(a1, a);
        set(logits, refLinear(a, s.w2, &s.b2));
        set(w1, s.w1);
        set(w2, s.w2);
        return fd(n, rng);
      };
  cases.push_back(finiteDiffCase("mlp dW1", dW1, net, &TwoLayerNet::w1, eps));
  cases.push_back(finiteDiffCase("mlp db1", db1, net, &TwoLayerNet::b1, eps));
  cases.push_back(finiteDiffCase("mlp dx", dX, net, &TwoLayerNet::x, eps));
  std::mt19937 rng(10);
  Halide::Pipeline pipeline = compileCases(grads, cases);
  checkCases(pipeline, cases, rng, {1, 3, 17});
}

// --- errors
// ------------------------------------------------------------------------------------

TEST(GradOps, BadShapesThrowInsteadOfAborting) {
  Input dy = makeInput("dy", {kDynamic, 4, 6, 6});
  Input w = makeInput("w", {4, 3, 3, 3});
  // dy of a 3x3 conv on 8x8 is 6x6, not on 9x9.
  EXPECT_NO_THROW(
      conv2dInputGrad(dy.tensor, w.tensor, {kDynamic, 3, 8, 8}, Conv2dArgs{}));
  EXPECT_THROW(
      conv2dInputGrad(dy.tensor, w.tensor, {kDynamic, 3, 9, 9}, Conv2dArgs{}),
      std::invalid_argument);
  Input x = makeInput("x", {kDynamic, 3, 8, 8});
  EXPECT_THROW(conv2dWeightGrad(x.tensor, dy.tensor, {4, 2, 3, 3}, Conv2dArgs{},
                                batchOf(x)),
               std::invalid_argument);
  EXPECT_THROW(elementwiseGrad(Tensor{}, x.tensor, activations::reluGrad),
               std::invalid_argument);
  EXPECT_THROW(activationGradOp(Act::Relu, x.tensor, dy.tensor),
               std::invalid_argument);
  EXPECT_THROW(flattenGrad(dy.tensor, {kDynamic, 4, 6, 6}),
               std::invalid_argument);
  EXPECT_THROW(maxPool2dGrad(x.tensor, dy.tensor,
                             Pool2dArgs{{2, 2}, {2, 2}, {0, 0}, {1, 1}}),
               std::invalid_argument);
  Halide::ImageParam floatLabels(Halide::Float(32), 1, "float_labels");
  Input logits = makeInput("logits", {kDynamic, 10});
  EXPECT_THROW(softmaxCrossEntropy(logits.tensor, floatLabels, batchOf(logits)),
               std::invalid_argument);
  Input p = makeInput("p", {3}), g = makeInput("g", {4});
  SgdHyper hyper;
  EXPECT_THROW(sgdUpdate(p.tensor, g.tensor, nullptr, hyper),
               std::invalid_argument);
}

} // namespace
