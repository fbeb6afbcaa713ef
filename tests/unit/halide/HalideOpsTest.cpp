// Numerics of the Halide algorithm builders under the default CPU schedule,
// against naive C++ references accumulating in double (Reference.h).
//
// Every pipeline is JIT-compiled once (JIT compiles dominate the run time)
// and realised for several batch sizes: the batch is dynamic, as in the AOT
// libraries. Inputs are ImageParams constrained with constrainToShape, as
// the MLIR walker does, so a schedule reading outside a tensor shows up as
// a Halide bounds error, not as silent garbage.
#include "Reference.h"

#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/Ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace cnnc::hl;
using namespace cnnc::hl::test;

constexpr double kTol = 1e-5;
const std::vector<int> kBatches = {1, 3};

// --- tensors ---------------------------------------------------------------

Buf randomBuffer(const Shape &shape, std::mt19937 &rng, float lo = -1.0f,
                 float hi = 1.0f) {
  Buf b = makeBuffer(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  b.for_each_value([&](float &v) { v = dist(rng); });
  return b;
}

/// Compares element by element with |got - want| <= tol * (1 + |want|);
/// equal infinities compare equal.
void expectNear(const Buf &got, const Buf &want, const std::string &what,
                double tol = kTol) {
  ASSERT_EQ(got.dimensions(), want.dimensions()) << what;
  for (int d = 0; d < got.dimensions(); ++d)
    ASSERT_EQ(got.dim(d).extent(), want.dim(d).extent())
        << what << " dim " << d;
  int bad = 0;
  std::string first;
  forEachPosition(want, [&](const int *pos) {
    double w = want(pos), g = got(pos);
    bool ok = (std::isinf(w) && g == w) || withinTol(g, w, tol);
    if (!ok && bad++ == 0) {
      std::ostringstream os;
      os << "at (";
      for (int d = 0; d < want.dimensions(); ++d)
        os << (d ? "," : "") << pos[d];
      os << ") got " << g << " want " << w;
      first = os.str();
    }
  });
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches, first " << first;
}

// --- running pipelines -------------------------------------------------------

/// One case of a multi-output pipeline: its output tensor, its activation
/// input (batch-dynamic), its parameters (static), and a reference that
/// maps the realised input and parameter buffers to the expected output.
struct Case {
  std::string label;
  Tensor output;
  Input input;
  std::vector<std::pair<Input, Buf>> params;
  std::function<Buf(const Buf &input)> reference;
  double tol = kTol;
};

/// Schedules `ops` and compiles one pipeline whose outputs are the cases'
/// outputs: one JIT compile for many cases.
Halide::Pipeline compileCases(std::vector<LoweredOp> &ops,
                              std::vector<Case> &cases) {
  std::vector<Halide::Func> outputs;
  for (Case &c : cases) {
    constrainToShape(c.output.func.output_buffer(), c.output.shape);
    outputs.push_back(c.output.func);
  }
  applyDefaultCpuSchedule(ops, hostTarget(), outputs);
  Halide::Pipeline pipeline(outputs);
  pipeline.compile_jit(hostTarget());
  return pipeline;
}

/// Checks every case for every batch size against its reference on fresh
/// random inputs in [lo, hi). Cases may share an input.
void checkCases(Halide::Pipeline &pipeline, std::vector<Case> &cases,
                std::mt19937 &rng, float lo = -1.0f, float hi = 1.0f,
                const std::vector<int> &batches = kBatches) {
  for (int batch : batches) {
    std::map<std::string, Buf> inputs;
    std::vector<Halide::Buffer<>> results;
    for (Case &c : cases) {
      auto [it, fresh] = inputs.try_emplace(c.input.param.name());
      if (fresh)
        it->second =
            randomBuffer(withBatch(c.input.tensor.shape, batch), rng, lo, hi);
      c.input.param.set(it->second);
      for (auto &[param, buffer] : c.params)
        param.param.set(buffer);
      results.push_back(makeBuffer(withBatch(c.output.shape, batch)));
    }
    Halide::Realization realization(results);
    pipeline.realize(realization);
    for (size_t i = 0; i < cases.size(); ++i)
      expectNear(Buf(results[i]),
                 cases[i].reference(inputs[cases[i].input.param.name()]),
                 cases[i].label + " batch " + std::to_string(batch),
                 cases[i].tol);
  }
}

void runCases(std::vector<LoweredOp> &ops, std::vector<Case> &cases,
              std::mt19937 &rng) {
  Halide::Pipeline pipeline = compileCases(ops, cases);
  checkCases(pipeline, cases, rng);
}

bool isInlined(const Halide::Func &f) {
  Halide::LoopLevel level = f.function().schedule().compute_level();
  level.lock();
  return level.is_inlined();
}

/// The name of the loop `f` is computed in ("" when inlined or at the root).
std::string computeLoop(const Halide::Func &f) {
  Halide::LoopLevel level = f.function().schedule().compute_level();
  level.lock();
  return level.is_inlined() || level.is_root() ? "" : level.var().name();
}

// --- Conv2d ----------------------------------------------------------------

struct ConvSpec {
  int C, H, W, O, KH, KW;
  Pair stride, padding, dilation;
  int groups;
  bool bias;
};

std::string label(const ConvSpec &s) {
  std::ostringstream os;
  os << "conv in " << s.C << "x" << s.H << "x" << s.W << " out " << s.O << " k "
     << s.KH << "x" << s.KW << " s " << pairText(s.stride) << " p "
     << pairText(s.padding) << " d " << pairText(s.dilation) << " g "
     << s.groups << (s.bias ? " bias" : " no bias");
  return os.str();
}

/// Adds one conv case (plus an optional fused activation chain) to a
/// multi-output pipeline.
void addConvCase(const ConvSpec &s, std::vector<Act> activations,
                 std::vector<LoweredOp> &ops, std::vector<Case> &cases,
                 std::mt19937 &rng) {
  Case c;
  c.label = label(s);
  c.input = makeInput("in", {kDynamic, s.C, s.H, s.W});
  Shape wShape{s.O, s.C / s.groups, s.KH, s.KW};
  Input w = makeInput("w", wShape);
  Buf wBuf = randomBuffer(wShape, rng);
  c.params.push_back({w, wBuf});
  std::optional<Tensor> bias;
  Buf bBuf;
  if (s.bias) {
    Input b = makeInput("b", {s.O});
    bBuf = randomBuffer({s.O}, rng);
    c.params.push_back({b, bBuf});
    bias = b.tensor;
  }
  Conv2dArgs args{s.stride, s.padding, s.dilation, s.groups};
  ops.push_back(conv2d(c.input.tensor, w.tensor, bias, args));
  for (Act kind : activations) {
    ops.push_back(activationOp(kind, ops.back().output));
    c.label += std::string(" + ") + actName(kind);
  }
  c.output = ops.back().output;
  c.reference = [=](const Buf &in) {
    Buf out = refConv(in, wBuf, s.bias ? &bBuf : nullptr, args);
    for (Act kind : activations)
      out = refActivation(kind, out);
    return out;
  };
  cases.push_back(std::move(c));
}

TEST(HalideConv2d, PaddingStrideDilationBias) {
  // Every padding x stride x dilation x bias combination (24 cases), on a
  // non-square input and non-square kernel, in one pipeline.
  std::mt19937 rng(1);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  for (int p : {0, 1, 2})
    for (int s : {1, 2})
      for (int d : {1, 2})
        for (bool bias : {true, false}) {
          ConvSpec spec{3, 7, 9, 4, 3, 2, {s, s}, {p, p}, {d, d}, 1, bias};
          addConvCase(spec, {}, ops, cases, rng);
        }
  ASSERT_EQ(cases.size(), 24u);
  runCases(ops, cases, rng);
}

TEST(HalideConv2d, GroupsDepthwiseAndMixedArguments) {
  std::mt19937 rng(2);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  const std::vector<ConvSpec> specs = {
      // groups 2, with and without padding / stride / dilation
      {4, 7, 9, 6, 3, 2, {1, 1}, {0, 0}, {1, 1}, 2, true},
      {4, 7, 9, 6, 3, 2, {2, 1}, {1, 2}, {2, 1}, 2, false},
      {6, 8, 5, 4, 2, 3, {1, 2}, {2, 1}, {1, 2}, 2, true},
      // depthwise (groups == in == out), and with a channel multiplier
      {5, 7, 9, 5, 3, 3, {1, 1}, {1, 1}, {1, 1}, 5, true},
      {3, 9, 7, 6, 3, 2, {2, 2}, {2, 1}, {2, 2}, 3, false},
      // 1x1 kernels, a kernel covering the whole padded input, wide rows
      // (more than one vector of outputs plus a tail)
      {3, 4, 5, 7, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {2, 3, 4, 3, 5, 6, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {2, 5, 37, 3, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {16, 6, 21, 8, 3, 3, {1, 2}, {1, 1}, {1, 1}, 4, false},
  };
  for (const ConvSpec &s : specs)
    addConvCase(s, {}, ops, cases, rng);
  runCases(ops, cases, rng);
}

TEST(HalideConv2d, FusedActivations) {
  // conv -> act (and conv -> relu -> tanh) chains: the schedule stores the
  // last activation and inlines the rest.
  std::mt19937 rng(3);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  addConvCase({3, 7, 9, 4, 3, 2, {1, 1}, {1, 1}, {1, 1}, 1, true}, {Act::Relu},
              ops, cases, rng);
  addConvCase({3, 7, 9, 4, 3, 3, {2, 2}, {0, 0}, {1, 1}, 1, true}, {Act::Tanh},
              ops, cases, rng);
  addConvCase({4, 6, 8, 4, 2, 2, {1, 1}, {1, 0}, {2, 1}, 2, false},
              {Act::Sigmoid}, ops, cases, rng);
  addConvCase({3, 7, 9, 4, 3, 2, {1, 1}, {2, 2}, {1, 1}, 1, true},
              {Act::Relu, Act::Tanh}, ops, cases, rng);
  runCases(ops, cases, rng);
  // The conv result itself was fused away (inlined) in every chain.
  for (const LoweredOp &op : ops) {
    if (op.kind == OpKind::Conv2d) {
      EXPECT_TRUE(isInlined(op.output.func));
    }
  }
}

// --- Linear ----------------------------------------------------------------

void addLinearCase(int in, int out, bool withBias, std::vector<Act> activations,
                   std::vector<LoweredOp> &ops, std::vector<Case> &cases,
                   std::mt19937 &rng) {
  Case c;
  c.label = "linear " + std::to_string(in) + " -> " + std::to_string(out) +
            (withBias ? " bias" : " no bias");
  c.input = makeInput("x", {kDynamic, in});
  Input w = makeInput("w", {out, in});
  Buf wBuf = randomBuffer({out, in}, rng);
  c.params.push_back({w, wBuf});
  std::optional<Tensor> bias;
  Buf bBuf;
  if (withBias) {
    Input b = makeInput("b", {out});
    bBuf = randomBuffer({out}, rng);
    c.params.push_back({b, bBuf});
    bias = b.tensor;
  }
  ops.push_back(linear(c.input.tensor, w.tensor, bias));
  for (Act kind : activations) {
    ops.push_back(activationOp(kind, ops.back().output));
    c.label += std::string(" + ") + actName(kind);
  }
  c.output = ops.back().output;
  c.reference = [=](const Buf &x) {
    Buf y = refLinear(x, wBuf, withBias ? &bBuf : nullptr);
    for (Act kind : activations)
      y = refActivation(kind, y);
    return y;
  };
  cases.push_back(std::move(c));
}

TEST(HalideLinear, WithAndWithoutBias) {
  // in_features below, at, and off a multiple of the vector width; out
  // features below and off a multiple of the output block.
  std::mt19937 rng(4);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  addLinearCase(3, 5, true, {}, ops, cases, rng);
  addLinearCase(37, 10, true, {}, ops, cases, rng);
  addLinearCase(37, 10, false, {}, ops, cases, rng);
  addLinearCase(64, 17, false, {}, ops, cases, rng);
  addLinearCase(300, 9, true, {}, ops, cases, rng);
  addLinearCase(40, 12, true, {Act::Relu}, ops, cases, rng);
  addLinearCase(40, 12, false, {Act::Sigmoid}, ops, cases, rng);
  runCases(ops, cases, rng);
}

TEST(HalideLinear, BlockedTilesAndBatchTails) {
  // The register tiles of the schedule: blocks of output features (a
  // ShiftInwards last block when the block does not divide them, one short
  // block when there are fewer), blocks of samples (guarded tails: batches
  // off a multiple of the block, and 1), in_features off a multiple of the
  // vector width and a full-size layer.
  std::mt19937 rng(41);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  addLinearCase(3072, 128, true, {Act::Relu}, ops, cases, rng);
  cases.back().tol = 1e-4; // float sums of 3072 terms, in another order
  // Chunks of input features (long rows): a short last chunk, a partial
  // last vector.
  addLinearCase(1000, 20, true, {}, ops, cases, rng);
  cases.back().tol = 1e-4;
  addLinearCase(100, 13, true, {}, ops, cases, rng);
  addLinearCase(84, 10, false, {}, ops, cases, rng);
  addLinearCase(16, 6, true, {}, ops, cases, rng);
  addLinearCase(20, 25, false, {Act::Tanh}, ops, cases, rng);
  addLinearCase(400, 120, true, {}, ops, cases, rng);
  addLinearCase(7, 2, true, {}, ops, cases, rng);
  Halide::Pipeline pipeline = compileCases(ops, cases);
  checkCases(pipeline, cases, rng, -1.0f, 1.0f, {1, 3, 4, 5, 7, 31, 64});
}

// --- Activations -------------------------------------------------------------

TEST(HalideActivation, EveryActivationRank4AndRank2) {
  // Standalone activations (stored on their own) over a wide range of
  // values, including ones where exp overflows in sigmoid and elu.
  std::mt19937 rng(5);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  for (Act kind : kEveryAct)
    for (Shape shape : {Shape{kDynamic, 3, 5, 19}, Shape{kDynamic, 23}}) {
      Case c;
      c.label = std::string(actName(kind)) + " " + cnn::shape::format(shape);
      c.input = makeInput("x", shape);
      ops.push_back(activationOp(kind, c.input.tensor));
      c.output = ops.back().output;
      EXPECT_EQ(c.output.shape, shape);
      c.reference = [kind](const Buf &x) { return refActivation(kind, x); };
      cases.push_back(std::move(c));
    }
  Halide::Pipeline pipeline = compileCases(ops, cases);
  checkCases(pipeline, cases, rng, -100.0f, 100.0f);
  checkCases(pipeline, cases, rng, -3.0f, 3.0f);
  checkCases(pipeline, cases, rng, -7.0f, 7.0f);
}

// --- Pooling -----------------------------------------------------------------

TEST(HalidePooling, MaxPoolPaddingStrideDilation) {
  std::mt19937 rng(6);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  struct Spec {
    int H, W;
    Pool2dArgs args;
  };
  const std::vector<Spec> specs = {
      {8, 8, {{2, 2}, {2, 2}, {0, 0}, {1, 1}}}, // LeNet's
      {7, 9, {{3, 3}, {2, 2}, {1, 1}, {1, 1}}}, // ResNet's stem pool
      {7, 9, {{3, 2}, {1, 2}, {1, 1}, {1, 1}}},
      {9, 7, {{3, 3}, {2, 1}, {1, 0}, {2, 2}}},
      {6, 21, {{2, 3}, {1, 1}, {0, 1}, {1, 2}}},
      // ceil_mode: a last window past the edge (tiling, padded, dilated),
      // and one PyTorch drops (it would start in the right padding)
      {7, 9, ceilMode({{2, 2}, {2, 2}, {0, 0}, {1, 1}})},
      {6, 7, ceilMode({{3, 3}, {2, 2}, {1, 1}, {1, 1}})},
      {8, 7, ceilMode({{2, 3}, {3, 2}, {0, 1}, {2, 1}})},
      {5, 5, ceilMode({{2, 2}, {2, 2}, {1, 1}, {1, 1}})},
      // dilation 3, padding 2 on a 2-wide input: the middle window holds
      // only padding, so PyTorch gives -inf there
      {3, 2, {{2, 2}, {1, 1}, {1, 2}, {1, 3}}},
  };
  {
    std::mt19937 probeRng(0);
    Buf probe =
        refMaxPool(randomBuffer({1, 1, 3, 2}, probeRng), specs.back().args);
    bool anyInf = false;
    probe.for_each_value([&](float v) { anyInf |= std::isinf(v); });
    ASSERT_TRUE(anyInf) << "the last case must cover an all-padding window";
  }
  for (const Spec &s : specs) {
    Case c;
    c.label = "maxpool " + std::to_string(s.H) + "x" + std::to_string(s.W) +
              " " + poolText(s.args);
    c.input = makeInput("x", {kDynamic, 3, s.H, s.W});
    ops.push_back(maxPool2d(c.input.tensor, s.args));
    c.output = ops.back().output;
    Pool2dArgs args = s.args;
    c.reference = [args](const Buf &x) { return refMaxPool(x, args); };
    cases.push_back(std::move(c));
  }
  runCases(ops, cases, rng);
}

TEST(HalidePooling, AvgPoolCountIncludePad) {
  std::mt19937 rng(7);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  Pool2dArgs divided({3, 2}, {2, 2}, {1, 0}, {1, 1});
  divided.divisorOverride = 5;
  const std::vector<Pool2dArgs> specs = {
      {{2, 2}, {2, 2}, {0, 0}, {1, 1}},
      {{3, 3}, {2, 2}, {1, 1}, {1, 1}},
      {{3, 2}, {1, 2}, {1, 1}, {1, 1}},
      {{4, 3}, {3, 1}, {2, 0}, {1, 1}},
      // ceil_mode on a 7x9 input: windows past the edge (divided by their
      // part inside the padded input), with and without padding
      ceilMode({{2, 2}, {2, 2}, {0, 0}, {1, 1}}),
      ceilMode({{3, 2}, {2, 2}, {1, 1}, {1, 1}}),
      ceilMode({{4, 4}, {3, 3}, {2, 1}, {1, 1}}),
      divided,
      ceilMode(divided),
  };
  for (const Pool2dArgs &args : specs)
    for (bool includePad : {true, false}) {
      Case c;
      c.label = "avgpool " + poolText(args) +
                (includePad ? " count_include_pad" : " exclude pad");
      c.input = makeInput("x", {kDynamic, 2, 7, 9});
      ops.push_back(avgPool2d(c.input.tensor, args, includePad));
      c.output = ops.back().output;
      c.reference = [args, includePad](const Buf &x) {
        return refAvgPool(x, args, includePad);
      };
      cases.push_back(std::move(c));
    }
  runCases(ops, cases, rng);
}

/// The pads of each mode the tests cover, on a 5x4 input: symmetric,
/// lopsided (padding 'same' of an even kernel), one side only, and the
/// largest each mode allows (reflect < size, circular <= size).
std::vector<cnn::shape::Pad2dArgs> padCases() {
  using cnn::shape::PadMode;
  std::vector<cnn::shape::Pad2dArgs> cases;
  for (PadMode mode : {PadMode::Zeros, PadMode::Reflect, PadMode::Replicate,
                       PadMode::Circular}) {
    cases.push_back({{1, 1}, {1, 1}, mode});
    cases.push_back({{1, 0}, {2, 1}, mode});
    cases.push_back({{0, 2}, {3, 0}, mode});
  }
  cases.push_back({{4, 3}, {4, 3}, PadMode::Reflect});
  cases.push_back({{5, 4}, {5, 4}, PadMode::Circular});
  cases.push_back({{7, 6}, {2, 9}, PadMode::Replicate});
  cases.push_back({{7, 6}, {2, 9}, PadMode::Zeros});
  return cases;
}

std::string padText(const cnn::shape::Pad2dArgs &a) {
  return std::string(cnn::shape::padModeName(a.mode)) + " begin " +
         pairText(a.begin) + " end " + pairText(a.end);
}

TEST(HalidePadding, EveryModeMatchesTheReference) {
  std::mt19937 rng(9);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  for (const cnn::shape::Pad2dArgs &args : padCases()) {
    Case c;
    c.label = "pad2d " + padText(args);
    c.input = makeInput("x", {kDynamic, 2, 5, 4});
    ops.push_back(pad2d(c.input.tensor, args));
    c.output = ops.back().output;
    c.reference = [args](const Buf &x) { return refPad(x, args); };
    cases.push_back(std::move(c));
  }
  runCases(ops, cases, rng);
}

TEST(HalideConcat, AlongEachDim) {
  std::mt19937 rng(14);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  struct Spec {
    Shape x, other;
    int dim;
  };
  // [x, other, x]: the same tensor twice, parts of different extents.
  for (const Spec &s :
       std::vector<Spec>{{{kDynamic, 3, 4, 5}, {kDynamic, 2, 4, 5}, 1},
                         {{kDynamic, 3, 4, 5}, {kDynamic, 3, 1, 5}, 2},
                         {{kDynamic, 3, 4, 5}, {kDynamic, 3, 4, 7}, 3},
                         {{kDynamic, 6}, {kDynamic, 9}, 1}}) {
    Case c;
    c.label = "cat dim " + std::to_string(s.dim) + " of " +
              cnn::shape::format(s.x) + " and " + cnn::shape::format(s.other);
    c.input = makeInput("x", s.x);
    Input other = makeInput("other", s.other);
    Buf otherBuf = randomBuffer(withBatch(s.other, 2), rng);
    c.params.push_back({other, otherBuf});
    ops.push_back(
        concat({c.input.tensor, other.tensor, c.input.tensor}, s.dim));
    c.output = ops.back().output;
    c.reference = [s, otherBuf](const Buf &x) {
      DT xd = toDT(x);
      return toBuf(refCat({xd, toDT(otherBuf), xd}, s.dim));
    };
    cases.push_back(std::move(c));
  }
  Halide::Pipeline pipeline = compileCases(ops, cases);
  checkCases(pipeline, cases, rng, -1.0f, 1.0f, {2});
}

TEST(HalideSoftmax, EveryDimBothKinds) {
  std::mt19937 rng(12);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  struct Spec {
    Shape shape;
    int dim;
  };
  // Logits of an [N, 10] output; channels, rows and columns of a 4-D tensor.
  for (const Spec &s : std::vector<Spec>{{{kDynamic, 10}, 1},
                                         {{kDynamic, 5, 3, 4}, 1},
                                         {{kDynamic, 5, 3, 4}, 2},
                                         {{kDynamic, 5, 3, 4}, 3}})
    for (bool log : {false, true}) {
      Case c;
      c.label = std::string(log ? "log_softmax" : "softmax") + " " +
                cnn::shape::format(s.shape) + " dim " + std::to_string(s.dim);
      c.input = makeInput("x", s.shape);
      ops.push_back(softmax(c.input.tensor, s.dim, log));
      c.output = ops.back().output;
      c.reference = [s, log](const Buf &x) {
        return refSoftmax(x, s.dim, log);
      };
      cases.push_back(std::move(c));
    }
  runCases(ops, cases, rng);
}

TEST(HalidePooling, AdaptivePools) {
  std::mt19937 rng(8);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  struct Spec {
    int H, W, OH, OW;
  };
  const std::vector<Spec> specs = {
      {5, 7, 1, 1}, // global pooling
      // Global pooling of rows wider than a vector: partial sums of 28
      // lanes (56 = 2 x 28), 20 lanes, and 16 lanes with a guarded tail.
      {3, 56, 1, 1},
      {2, 40, 1, 1},
      {4, 37, 1, 1},
      {5, 7, 3, 2},   // windows of different lengths that overlap
      {6, 4, 3, 2},   // divides: fixed windows
      {4, 4, 6, 5},   // more outputs than inputs
      {7, 19, 2, 17}, // wide output row: more than one vector
  };
  for (bool max : {false, true})
    for (const Spec &s : specs) {
      Case c;
      c.label = std::string(max ? "adaptive maxpool " : "adaptive avgpool ") +
                std::to_string(s.H) + "x" + std::to_string(s.W) + " -> " +
                std::to_string(s.OH) + "x" + std::to_string(s.OW);
      c.input = makeInput("x", {kDynamic, 3, s.H, s.W});
      ops.push_back(max ? adaptiveMaxPool2d(c.input.tensor, {s.OH, s.OW})
                        : adaptiveAvgPool2d(c.input.tensor, {s.OH, s.OW}));
      c.output = ops.back().output;
      EXPECT_EQ(c.output.shape, (Shape{kDynamic, 3, s.OH, s.OW}));
      c.reference = [s, max](const Buf &x) {
        return max ? refAdaptiveMaxPool(x, s.OH, s.OW)
                   : refAdaptiveAvgPool(x, s.OH, s.OW);
      };
      cases.push_back(std::move(c));
    }
  runCases(ops, cases, rng);
}

// --- Flatten and whole chains ------------------------------------------------

TEST(HalideReshape, FlattenIsCOrder) {
  std::mt19937 rng(9);
  std::vector<LoweredOp> ops;
  std::vector<Case> cases;
  for (Shape shape : {Shape{kDynamic, 3, 5, 7}, Shape{kDynamic, 16, 1, 1}}) {
    Case c;
    c.label = "flatten " + cnn::shape::format(shape);
    c.input = makeInput("x", shape);
    ops.push_back(flatten(c.input.tensor));
    c.output = ops.back().output;
    EXPECT_EQ(c.output.shape,
              (Shape{kDynamic, shape[1] * shape[2] * shape[3]}));
    c.reference = [](const Buf &x) { return refFlatten(x); };
    cases.push_back(std::move(c));
  }
  runCases(ops, cases, rng);
}

TEST(HalidePipeline, FlattenOfWholeVectorRowsIsReadInPlaceByLinears) {
  // Rows of 32 and 48 are whole vectors on every CPU target: the linear
  // layer reads the image in place, the flatten is not copied
  // (readsFlattenInPlace; 4x4x48 features are past the linear's chunking
  // threshold). Rows of 7 are not, and a flatten that is also a pipeline
  // output is stored: copied.
  struct Variant {
    Shape input;
    bool flattenIsOutput;
    bool inPlace;
  };
  std::mt19937 rng(12);
  for (const Variant &v : {Variant{{kDynamic, 2, 3, 32}, false, true},
                           Variant{{kDynamic, 4, 4, 48}, false, true},
                           Variant{{kDynamic, 2, 3, 7}, false, false},
                           Variant{{kDynamic, 2, 3, 32}, true, false}}) {
    Input x = makeInput("x", v.input);
    const int64_t features = v.input[1] * v.input[2] * v.input[3];
    Shape ws{5, features};
    Input w = makeInput("w", ws), b = makeInput("b", {5});
    Buf wb = randomBuffer(ws, rng), bb = randomBuffer({5}, rng);
    std::vector<LoweredOp> ops;
    ops.push_back(flatten(x.tensor));
    ops.push_back(linear(ops.back().output, w.tensor, b.tensor, "fc"));
    Case c;
    c.label = "flatten " + cnn::shape::format(v.input) + ", linear" +
              (v.flattenIsOutput ? ", flatten an output" : "");
    c.input = x;
    c.params = {{w, wb}, {b, bb}};
    c.output = ops.back().output;
    c.reference = [&](const Buf &in) {
      return refLinear(refFlatten(in), wb, &bb);
    };
    std::vector<Case> cases{c};
    if (v.flattenIsOutput) {
      Case f;
      f.label = c.label + ": the flatten";
      f.input = x;
      f.output = ops[0].output;
      f.reference = [](const Buf &in) { return refFlatten(in); };
      cases.push_back(std::move(f));
    }
    Halide::Pipeline pipeline = compileCases(ops, cases);
    EXPECT_EQ(isInlined(ops[0].output.func), v.inPlace) << c.label;
    checkCases(pipeline, cases, rng, -1.0f, 1.0f, {1, 3, 17});
  }
}

TEST(HalidePipeline, LeNetShapedChain) {
  // conv -> relu -> maxpool -> conv -> tanh -> avgpool -> flatten -> linear
  // -> relu -> linear -> sigmoid, one pipeline, as the MLIR walker builds it.
  std::mt19937 rng(10);
  Input x = makeInput("x", {kDynamic, 3, 16, 14});
  Shape w1s{6, 3, 5, 5}, w2s{8, 6, 3, 3}, f1s{20, 8 * 3 * 2}, f2s{7, 20};
  Input w1 = makeInput("w1", w1s), b1 = makeInput("b1", {6});
  Input w2 = makeInput("w2", w2s);
  Input f1 = makeInput("f1", f1s), c1 = makeInput("c1", {20});
  Input f2 = makeInput("f2", f2s), c2 = makeInput("c2", {7});
  Buf w1b = randomBuffer(w1s, rng), b1b = randomBuffer({6}, rng),
      w2b = randomBuffer(w2s, rng), f1b = randomBuffer(f1s, rng),
      c1b = randomBuffer({20}, rng), f2b = randomBuffer(f2s, rng),
      c2b = randomBuffer({7}, rng);

  Conv2dArgs conv1{{1, 1}, {0, 0}, {1, 1}, 1}, conv2{{1, 1}, {1, 1}, {1, 1}, 1};
  Pool2dArgs pool1{{2, 2}, {2, 2}, {0, 0}, {1, 1}},
      pool2{{3, 2}, {2, 2}, {1, 0}, {1, 1}};
  std::vector<LoweredOp> ops;
  ops.push_back(conv2d(x.tensor, w1.tensor, b1.tensor, conv1, "conv1"));
  ops.push_back(activationOp(Act::Relu, ops.back().output));
  ops.push_back(maxPool2d(ops.back().output, pool1, "pool1"));
  ops.push_back(
      conv2d(ops.back().output, w2.tensor, std::nullopt, conv2, "conv2"));
  ops.push_back(activationOp(Act::Tanh, ops.back().output));
  ops.push_back(avgPool2d(ops.back().output, pool2, true, "pool2"));
  ops.push_back(flatten(ops.back().output));
  ops.push_back(linear(ops.back().output, f1.tensor, c1.tensor, "fc1"));
  ops.push_back(activationOp(Act::Relu, ops.back().output));
  ops.push_back(linear(ops.back().output, f2.tensor, c2.tensor, "fc2"));
  ops.push_back(activationOp(Act::Sigmoid, ops.back().output));
  ASSERT_EQ(ops.back().output.shape, (Shape{kDynamic, 7}));

  Case c;
  c.label = "lenet-shaped chain";
  c.input = x;
  c.params = {{w1, w1b}, {b1, b1b}, {w2, w2b}, {f1, f1b},
              {c1, c1b}, {f2, f2b}, {c2, c2b}};
  c.output = ops.back().output;
  c.reference = [&](const Buf &in) {
    Buf t = refActivation(Act::Relu, refConv(in, w1b, &b1b, conv1));
    t = refMaxPool(t, pool1);
    t = refActivation(Act::Tanh, refConv(t, w2b, nullptr, conv2));
    t = refFlatten(refAvgPool(t, pool2, true));
    t = refActivation(Act::Relu, refLinear(t, f1b, &c1b));
    return refActivation(Act::Sigmoid, refLinear(t, f2b, &c2b));
  };
  std::vector<Case> cases{c};
  Halide::Pipeline pipeline = compileCases(ops, cases);
  // Batch sizes that are multiples of nothing, up to a larger one.
  checkCases(pipeline, cases, rng, -1.0f, 1.0f, {1, 3, 17});
}

TEST(HalidePipeline, SharedResultIsNotFusedAway) {
  // A conv result that is also a pipeline output (as in a training step,
  // where the pre-activation is kept for the backward pass) stays stored;
  // the relu reading it is then scheduled on its own.
  std::mt19937 rng(11);
  Input x = makeInput("x", {kDynamic, 2, 6, 7});
  Shape ws{3, 2, 3, 3};
  Input w = makeInput("w", ws);
  Buf wb = randomBuffer(ws, rng);
  Conv2dArgs args{{1, 1}, {1, 1}, {1, 1}, 1};
  std::vector<LoweredOp> ops;
  ops.push_back(conv2d(x.tensor, w.tensor, std::nullopt, args));
  ops.push_back(activationOp(Act::Relu, ops.back().output));

  std::vector<Case> cases(2);
  cases[0].label = "conv (kept)";
  cases[0].input = x;
  cases[0].params = {{w, wb}};
  cases[0].output = ops[0].output;
  cases[0].reference = [&](const Buf &in) {
    return refConv(in, wb, nullptr, args);
  };
  cases[1] = cases[0];
  cases[1].label = "relu of the kept conv";
  cases[1].output = ops[1].output;
  cases[1].reference = [&](const Buf &in) {
    return refActivation(Act::Relu, refConv(in, wb, nullptr, args));
  };
  runCases(ops, cases, rng);
  EXPECT_FALSE(isInlined(ops[0].output.func));
}

TEST(HalidePipeline, ConvFusedIntoPool) {
  // A conv (+ relu) read only by an unpadded pool is computed inside the
  // pool's loops: rows the pool never reads (odd heights), overlapping
  // windows and channel counts with and without a whole number of blocks.
  std::mt19937 rng(12);
  Input x = makeInput("x", {kDynamic, 3, 12, 13});
  Shape w1s{6, 3, 3, 3}, w2s{5, 3, 2, 2};
  Input w1 = makeInput("w1", w1s), b1 = makeInput("b1", {6});
  Input w2 = makeInput("w2", w2s);
  Buf w1b = randomBuffer(w1s, rng), b1b = randomBuffer({6}, rng),
      w2b = randomBuffer(w2s, rng);
  Conv2dArgs conv{{1, 1}, {0, 0}, {1, 1}, 1};
  Pool2dArgs tiling{{2, 2}, {2, 2}, {0, 0}, {1, 1}},
      overlapping{{3, 3}, {2, 2}, {0, 0}, {1, 1}};
  std::vector<LoweredOp> ops;
  ops.push_back(conv2d(x.tensor, w1.tensor, b1.tensor, conv, "fconv1"));
  ops.push_back(activationOp(Act::Relu, ops.back().output));
  ops.push_back(maxPool2d(ops.back().output, tiling, "fpool1"));
  ops.push_back(conv2d(x.tensor, w2.tensor, std::nullopt, conv, "fconv2"));
  ops.push_back(avgPool2d(ops.back().output, overlapping, true, "fpool2"));

  std::vector<Case> cases(2);
  cases[0].label = "conv -> relu -> maxpool";
  cases[0].input = x;
  cases[0].params = {{w1, w1b}, {b1, b1b}};
  cases[0].output = ops[2].output;
  cases[0].reference = [&](const Buf &in) {
    return refMaxPool(refActivation(Act::Relu, refConv(in, w1b, &b1b, conv)),
                      tiling);
  };
  cases[1].label = "conv -> overlapping avgpool";
  cases[1].input = x;
  cases[1].params = {{w2, w2b}};
  cases[1].output = ops[4].output;
  cases[1].reference = [&](const Buf &in) {
    return refAvgPool(refConv(in, w2b, nullptr, conv), overlapping, true);
  };
  runCases(ops, cases, rng);
  for (int i : {1, 3}) {
    Halide::LoopLevel level =
        ops[i].output.func.function().schedule().compute_level();
    level.lock();
    EXPECT_FALSE(level.is_root()) << ops[i].output.func.name();
    EXPECT_FALSE(level.is_inlined()) << ops[i].output.func.name();
  }
}

// --- Add -------------------------------------------------------------------

Buf refAdd(const Buf &a, const Buf &b) {
  Buf out = a.copy();
  forEachPosition(out, [&](const int *pos) { out(pos) += b(pos); });
  return out;
}

TEST(HalideAdd, ResidualFusedIntoConvAndRelu) {
  // relu(conv(x) + x), as ResNet's identity shortcut: the add and the conv
  // result are inlined, the relu is the one stored tensor.
  std::mt19937 rng(13);
  Input x = makeInput("x", {kDynamic, 4, 7, 9});
  Shape ws{4, 4, 3, 3};
  Input w = makeInput("w", ws);
  Buf wb = randomBuffer(ws, rng);
  Conv2dArgs args{{1, 1}, {1, 1}, {1, 1}, 1};
  std::vector<LoweredOp> ops;
  ops.push_back(conv2d(x.tensor, w.tensor, std::nullopt, args));
  ops.push_back(add(ops.back().output, x.tensor));
  ops.push_back(activationOp(Act::Relu, ops.back().output));
  std::vector<Case> cases(1);
  cases[0].label = "relu(conv(x) + x)";
  cases[0].input = x;
  cases[0].params = {{w, wb}};
  cases[0].output = ops.back().output;
  cases[0].reference = [&](const Buf &in) {
    return refActivation(Act::Relu, refAdd(refConv(in, wb, nullptr, args), in));
  };
  runCases(ops, cases, rng);
  EXPECT_TRUE(isInlined(ops[0].output.func));
  EXPECT_TRUE(isInlined(ops[1].output.func));
  EXPECT_FALSE(isInlined(ops[2].output.func));
}

/// Eval-mode batch norm of a float buffer ([N, C, H, W]; c is dim 2).
Buf refBatchNormEval(const Buf &x, const Buf &w, const Buf &b, const Buf &mean,
                     const Buf &var, double eps) {
  Buf out = x.copy();
  forEachPosition(out, [&](const int *pos) {
    const int c = pos[2];
    const double scale = double(w(c)) / std::sqrt(double(var(c)) + eps);
    out(pos) = float((double(x(pos)) - mean(c)) * scale + b(c));
  });
  return out;
}

TEST(HalidePipeline, ChannelVectorConvBatchNormAddRelu) {
  // Channels in whole vectors, so the conv is vectorised over output
  // channels (with one or two channel vectors per tile, stride 1 and 2,
  // with and without bias), and eval-mode batch norm, the residual add and
  // the relu are all fused into it: only the relu is stored. ResNet's 14x14
  // and 7x7 stages, 9 and 20 rows (9-wide rows summed whole with AVX-512,
  // in chunks of 3 with AVX2; 20-wide in chunks of 10 and 5). The parallel
  // tasks are bands of an image's rows (at most 8, of ceil(H / 8) rows),
  // each padding its own rows: 9 and 20 rows leave a shorter last band.
  std::mt19937 rng(14);
  const float eps = 1e-5f;
  struct Spec {
    int64_t inC, H, outC;
    int stride;
    bool bias;
  };
  for (const Spec &s : {Spec{32, 7, 32, 1, false}, Spec{16, 14, 32, 2, true},
                        Spec{16, 14, 16, 1, false}, Spec{16, 9, 16, 1, true},
                        Spec{16, 20, 32, 1, false}}) {
    const int64_t outH = s.H / s.stride;
    Input x = makeInput("x", {kDynamic, s.inC, s.H, s.H});
    Input skip = makeInput("skip", {kDynamic, s.outC, outH, outH});
    Shape ws{s.outC, s.inC, 3, 3}, cs{s.outC};
    Input w = makeInput("w", ws), bias = makeInput("bias", cs);
    Input g = makeInput("g", cs), b = makeInput("b", cs),
          m = makeInput("m", cs), v = makeInput("v", cs);
    Buf wb = randomBuffer(ws, rng, -0.2f, 0.2f), biasb = randomBuffer(cs, rng),
        gb = randomBuffer(cs, rng, 0.5f, 1.5f), bb = randomBuffer(cs, rng),
        mb = randomBuffer(cs, rng), vb = randomBuffer(cs, rng, 0.5f, 2.0f),
        skipb = randomBuffer({3, s.outC, outH, outH}, rng);
    Conv2dArgs args{{s.stride, s.stride}, {1, 1}, {1, 1}, 1};
    std::vector<LoweredOp> ops;
    ops.push_back(
        conv2d(x.tensor, w.tensor,
               s.bias ? std::optional<Tensor>(bias.tensor) : std::nullopt, args,
               "nconv"));
    ops.push_back(batchNorm2d(ops.back().output, g.tensor, b.tensor, m.tensor,
                              v.tensor, eps, nullptr, "nbn"));
    ops.push_back(add(ops.back().output, skip.tensor));
    ops.push_back(activationOp(Act::Relu, ops.back().output));
    std::vector<Case> cases(1);
    cases[0].label = "relu(bn(conv(x)) + skip), " + std::to_string(s.H) + "x" +
                     std::to_string(s.H) + " stride " +
                     std::to_string(s.stride) + " -> " +
                     std::to_string(s.outC) + " channels";
    cases[0].input = x;
    cases[0].params = {{w, wb}, {g, gb}, {b, bb},
                       {m, mb}, {v, vb}, {skip, skipb}};
    if (s.bias)
      cases[0].params.push_back({bias, biasb});
    cases[0].output = ops.back().output;
    cases[0].reference = [&](const Buf &in) {
      Buf t = refConv(in, wb, s.bias ? &biasb : nullptr, args);
      return refActivation(
          Act::Relu, refAdd(refBatchNormEval(t, gb, bb, mb, vb, eps), skipb));
    };
    Halide::Pipeline pipeline = compileCases(ops, cases);
    checkCases(pipeline, cases, rng, -1.0f, 1.0f, {3});
    EXPECT_TRUE(isInlined(ops[0].output.func));
    EXPECT_TRUE(isInlined(ops[1].output.func));
    EXPECT_TRUE(isInlined(ops[2].output.func));
    EXPECT_FALSE(isInlined(ops[3].output.func));
    const std::string padLoop = computeLoop(ops[0].padded);
    const std::string band = "_band";
    EXPECT_TRUE(
        padLoop.size() > band.size() &&
        padLoop.compare(padLoop.size() - band.size(), band.size(), band) == 0)
        << cases[0].label << ": the input padded at '" << padLoop << "'";
  }
}

TEST(HalideAdd, StandaloneRank2AndSharedOperand) {
  // x + tanh(x) on [N, F] (tanh stored, then read by the add, whose result
  // is the output), and x + x.
  std::mt19937 rng(17);
  Input x = makeInput("x", {kDynamic, 37});
  std::vector<LoweredOp> ops;
  ops.push_back(activationOp(Act::Tanh, x.tensor));
  ops.push_back(add(x.tensor, ops.back().output));
  ops.push_back(add(x.tensor, x.tensor));
  std::vector<Case> cases(2);
  cases[0].label = "x + tanh(x)";
  cases[0].input = x;
  cases[0].output = ops[1].output;
  cases[0].reference = [](const Buf &in) {
    return refAdd(in, refActivation(Act::Tanh, in));
  };
  cases[1].label = "x + x";
  cases[1].input = x;
  cases[1].output = ops[2].output;
  cases[1].reference = [](const Buf &in) { return refAdd(in, in); };
  runCases(ops, cases, rng);
}

// --- errors ------------------------------------------------------------------

TEST(HalideOps, BadShapesThrowInsteadOfAborting) {
  Input x = makeInput("x", {kDynamic, 3, 8, 8});
  Input w = makeInput("w", {4, 2, 3, 3}); // expects 2 input channels
  try {
    conv2d(x.tensor, w.tensor, std::nullopt, Conv2dArgs{});
    FAIL() << "conv2d accepted a weight for the wrong channel count";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("conv2d"), std::string::npos)
        << e.what();
  }
  Input v = makeInput("v", {kDynamic, 12});
  EXPECT_THROW(linear(x.tensor, v.tensor, std::nullopt), std::invalid_argument);
  EXPECT_THROW(
      avgPool2d(x.tensor, Pool2dArgs{{2, 2}, {2, 2}, {0, 0}, {2, 2}}, true),
      std::invalid_argument);
  EXPECT_THROW(elementwise(Tensor{}, activations::relu), std::invalid_argument);
  EXPECT_THROW(add(x.tensor, v.tensor), std::invalid_argument);
  Tensor rankMismatch{Halide::Func(x.param), {kDynamic, 48}};
  EXPECT_THROW(flatten(rankMismatch), std::invalid_argument);
}

} // namespace
