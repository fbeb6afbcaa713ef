// Dropout in training mode (Ops.h) and its gradient (Gradients.h) under the
// default CPU schedules: the mask bit for bit against the hash docs/design.md
// specifies (a plain C++ implementation here), its statistics (the dropped
// fraction, independence across elements, samples, steps, streams and
// seeds), whole channels for Dropout2d, and the gradient's use of the same
// noise.
#include "Reference.h"

#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace cnnc::hl;
using namespace cnnc::hl::test;

// --- the specified mask, written out ----------------------------------------

uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

uint32_t mix(uint32_t acc, uint32_t word) {
  return hash32((acc ^ word) + 0x9e3779b9u);
}

/// Whether element `e` of sample `n` is kept.
bool referenceKept(double p, uint64_t seed, int64_t step, uint32_t stream,
                   uint32_t n, uint32_t e) {
  const auto s = uint64_t(step);
  uint32_t key = mix(
      mix(mix(mix(mix(0, uint32_t(seed)), uint32_t(seed >> 32)), uint32_t(s)),
          uint32_t(s >> 32)),
      stream);
  const uint32_t bits = mix(mix(key, n), e) >> 8;
  return bits >= uint32_t(std::llround(p * 16777216.0));
}

// --- pipelines ---------------------------------------------------------------

/// dropout(x) and dropoutGrad(dy) of one mask, JIT-compiled once; the seed
/// and the step index are parameters set per run.
struct DropoutPipelines {
  Input x, dy;
  Halide::Param<uint64_t> seed{"seed"};
  Halide::Param<int64_t> step{"step"};
  Halide::Pipeline forward, backward;

  DropoutPipelines(const Shape &shape, double p, bool channelwise,
                   uint32_t stream)
      : x(makeInput("x", shape)), dy(makeInput("dy", shape)) {
    DropoutMask mask{p, channelwise, stream, seed, step};
    std::vector<LoweredOp> ops = {dropout(x.tensor, mask, "drop")};
    applyDefaultCpuSchedule(ops, hostTarget());
    forward = Halide::Pipeline(ops[0].output.func);
    forward.compile_jit(hostTarget());
    std::vector<LoweredGrad> grads = {dropoutGrad(dy.tensor, mask, "dgrad")};
    applyDefaultGradientSchedule(grads, hostTarget());
    backward = Halide::Pipeline(grads[0].output.func);
    backward.compile_jit(hostTarget());
  }

  Buf run(Halide::Pipeline &pipeline, Input &in, const Buf &values,
          uint64_t seedValue, int64_t stepValue) {
    in.param.set(values);
    seed.set(seedValue);
    step.set(stepValue);
    Buf out = makeBuffer(toDT(values).shape);
    pipeline.realize(out);
    return out;
  }
  Buf drop(const Buf &values, uint64_t s, int64_t t) {
    return run(forward, x, values, s, t);
  }
  Buf grad(const Buf &values, uint64_t s, int64_t t) {
    return run(backward, dy, values, s, t);
  }
};

Buf filled(const Shape &shape, float value) {
  Buf b = makeBuffer(shape);
  b.fill(value);
  return b;
}

/// The values of `b` in C order (PyTorch's), sample-major.
std::vector<float> values(const Buf &b) {
  std::vector<double> v = toDT(b).v;
  return std::vector<float>(v.begin(), v.end());
}

/// The fraction of elements where two masks (as outputs on ones) agree.
double agreement(const std::vector<float> &a, const std::vector<float> &b) {
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i)
    same += (a[i] == 0.0f) == (b[i] == 0.0f) ? 1 : 0;
  return double(same) / double(a.size());
}

// Five standard deviations of a binomial fraction: a correct generator
// fails one of these checks about once in a million runs.
double fiveSigma(double p, size_t n) {
  return 5.0 * std::sqrt(p * (1.0 - p) / double(n));
}

TEST(DropoutTest, MatchesTheSpecifiedHashBitForBit) {
  for (bool channelwise : {false, true}) {
    const Shape shape = {3, 5, 4, 6};
    for (double p : {0.1, 0.5, 0.9}) {
      DropoutPipelines d({kDynamic, 5, 4, 6}, p, channelwise, 3);
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
      Buf x = makeBuffer(shape);
      x.for_each_value([&](float &v) { v = dist(rng); });
      const uint64_t seed = 0xfedcba9876543210ULL;
      const int64_t step = (int64_t(1) << 33) + 17;
      std::vector<float> got = values(d.drop(x, seed, step));
      std::vector<float> in = values(x);
      const float scale = 1.0f / float(1.0 - p);
      int mismatches = 0;
      for (uint32_t n = 0; n < 3; ++n)
        for (uint32_t c = 0; c < 5; ++c)
          for (uint32_t i = 0; i < 24; ++i) {
            const uint32_t flat = c * 24 + i, at = n * 120 + flat;
            const bool kept =
                referenceKept(p, seed, step, 3, n, channelwise ? c : flat);
            const float want = in[at] * (kept ? scale : 0.0f);
            mismatches += got[at] == want ? 0 : 1;
          }
      EXPECT_EQ(mismatches, 0) << "p " << p << " channelwise " << channelwise;
    }
  }
}

TEST(DropoutTest, RankTwoMasksEachFeature) {
  DropoutPipelines d({kDynamic, 37}, 0.3, false, 0);
  std::vector<float> got = values(d.drop(filled({4, 37}, 1.0f), 11, 2));
  const float scale = 1.0f / float(1.0 - 0.3);
  for (uint32_t n = 0; n < 4; ++n)
    for (uint32_t f = 0; f < 37; ++f)
      EXPECT_EQ(got[n * 37 + f],
                referenceKept(0.3, 11, 2, 0, n, f) ? scale : 0.0f);
}

TEST(DropoutTest, DropsTheExpectedFractionAndKeepsTheMean) {
  const Shape shape = {64, 16, 32, 32}; // 1 Mi elements
  for (double p : {0.05, 0.2, 0.5, 0.8}) {
    DropoutPipelines d({kDynamic, 16, 32, 32}, p, false, 1);
    std::vector<float> out = values(d.drop(filled(shape, 1.0f), 42, 0));
    size_t dropped = 0;
    double sum = 0;
    for (float v : out) {
      dropped += v == 0.0f ? 1 : 0;
      sum += v;
    }
    const double n = double(out.size());
    EXPECT_NEAR(double(dropped) / n, p, fiveSigma(p, out.size())) << p;
    // E[noise] = 1: the mean of the output is the input's.
    EXPECT_NEAR(sum / n, 1.0, fiveSigma(p, out.size()) / (1.0 - p) + 1e-6) << p;
  }
}

TEST(DropoutTest, NeighboursSamplesStepsStreamsAndSeedsAreIndependent) {
  const Shape shape = {8, 8, 32, 32};
  const double p = 0.5;
  const size_t n = 8 * 8 * 32 * 32;
  DropoutPipelines a({kDynamic, 8, 32, 32}, p, false, 0);
  DropoutPipelines otherStream({kDynamic, 8, 32, 32}, p, false, 1);
  const Buf ones = filled(shape, 1.0f);
  std::vector<float> base = values(a.drop(ones, 1, 0));
  // Two independent masks agree on p^2 + (1-p)^2 of the elements.
  const double independent = p * p + (1 - p) * (1 - p);
  const double tol = fiveSigma(independent, n);
  EXPECT_NEAR(agreement(base, values(a.drop(ones, 1, 1))), independent, tol)
      << "steps";
  EXPECT_NEAR(agreement(base, values(a.drop(ones, 2, 0))), independent, tol)
      << "seeds";
  EXPECT_NEAR(agreement(base, values(a.drop(ones, 1ULL << 32 | 1, 0))),
              independent, tol)
      << "the seed's high word";
  EXPECT_NEAR(agreement(base, values(otherStream.drop(ones, 1, 0))),
              independent, tol)
      << "streams";
  // Neighbouring elements, and the same element of neighbouring samples.
  std::vector<float> shifted(base.begin() + 1, base.end()), head = base;
  head.pop_back();
  EXPECT_NEAR(agreement(head, shifted), independent, tol) << "neighbours";
  const size_t sample = n / 8;
  std::vector<float> first(base.begin(), base.end() - sample),
      next(base.begin() + sample, base.end());
  EXPECT_NEAR(agreement(first, next), independent, tol) << "samples";
  // The same (seed, step) again: the same mask.
  EXPECT_EQ(values(a.drop(ones, 1, 0)), base);
}

TEST(DropoutTest, Dropout2dDropsWholeChannels) {
  const Shape shape = {16, 64, 5, 3};
  const double p = 0.4;
  DropoutPipelines d({kDynamic, 64, 5, 3}, p, true, 2);
  std::vector<float> out = values(d.drop(filled(shape, 1.0f), 9, 4));
  size_t droppedChannels = 0;
  for (size_t channel = 0; channel < 16 * 64; ++channel) {
    const float first = out[channel * 15];
    for (size_t i = 1; i < 15; ++i)
      ASSERT_EQ(out[channel * 15 + i], first) << "channel " << channel;
    droppedChannels += first == 0.0f ? 1 : 0;
  }
  EXPECT_NEAR(double(droppedChannels) / 1024.0, p, fiveSigma(p, 1024));
}

TEST(DropoutTest, GradientUsesTheForwardNoise) {
  for (bool channelwise : {false, true}) {
    DropoutPipelines d({kDynamic, 6, 7, 9}, 0.35, channelwise, 5);
    const Shape shape = {3, 6, 7, 9};
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    Buf dy = makeBuffer(shape);
    dy.for_each_value([&](float &v) { v = dist(rng); });
    // y = x * noise: d y / d x = noise, the forward's output on ones.
    std::vector<float> noise = values(d.drop(filled(shape, 1.0f), 77, 12));
    std::vector<float> got = values(d.grad(dy, 77, 12)), g = values(dy);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], g[i] * noise[i]) << i;
    // Central finite differences of the forward at a random x, in every
    // element at once (each output reads only its own element).
    Buf x = makeBuffer(shape), up = makeBuffer(shape), down = makeBuffer(shape);
    x.for_each_value([&](float &v) { v = dist(rng); });
    const float h = 1.0f / 64;
    forEachPosition(x, [&](const int *pos) {
      up(pos) = x(pos) + h;
      down(pos) = x(pos) - h;
    });
    std::vector<float> yUp = values(d.drop(up, 77, 12)),
                       yDown = values(d.drop(down, 77, 12)),
                       ones = values(d.grad(filled(shape, 1.0f), 77, 12));
    for (size_t i = 0; i < ones.size(); ++i)
      ASSERT_NEAR((double(yUp[i]) - yDown[i]) / (2 * h), ones[i],
                  1e-5 * (1 + std::abs(ones[i])))
          << i;
  }
}

TEST(DropoutTest, ProbabilitiesZeroAndOne) {
  const Shape shape = {2, 3, 4, 5};
  Buf x = makeBuffer(shape);
  int k = 0;
  x.for_each_value([&](float &v) { v = float(k++) - 50.0f; });
  DropoutPipelines none({kDynamic, 3, 4, 5}, 0.0, false, 0);
  EXPECT_EQ(values(none.drop(x, 3, 1)), values(x));
  DropoutPipelines all({kDynamic, 3, 4, 5}, 1.0, false, 0);
  for (float v : values(all.drop(x, 3, 1)))
    EXPECT_EQ(v, 0.0f);
}

TEST(DropoutTest, RefusesBadMasks) {
  Input x = makeInput("x", {kDynamic, 4});
  Halide::Param<uint64_t> seed;
  Halide::Param<int64_t> step;
  EXPECT_THROW(dropout(x.tensor, {1.5, false, 0, seed, step}),
               std::invalid_argument);
  EXPECT_THROW(dropout(x.tensor, {0.5, true, 0, seed, step}),
               std::invalid_argument);
  EXPECT_THROW(dropout(x.tensor, {0.5, false, 0, {}, {}}),
               std::invalid_argument);
}

} // namespace
