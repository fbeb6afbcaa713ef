// Batch normalisation's Halide algorithms under the default schedules, in
// one pipeline as the walker assembles them (forward op, its gradients and
// the running-stat update sharing the batch statistics):
//  - the forward (eval and training mode) and the new running statistics
//    against a double reference;
//  - dx, d weight and d bias (biasGrad of dy) against central finite
//    differences of L = sum(BN(x) * r) computed in double, dy = r.
// Tolerance |got - want| <= 1e-4 (1 + |want|), as GradientsTest: in
// training mode BN is a smooth function of x (the batch variances of these
// inputs are >= ~0.02), so the FD truncation error eps^2/6 |f'''| stays
// ~1e-6, and the float sums run over at most 3 * 5 * 37 values.
#include "Reference.h"

#include "cnnc/halide/Bounds.h"
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"
#include "cnnc/halide/Gradients.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <sstream>

namespace {

using namespace cnnc::hl;
using namespace cnnc::hl::test;

constexpr double kTol = 1e-4;
constexpr double kEps = 1e-3;
constexpr double kBnEps = 1e-5;
constexpr double kMomentum = 0.1;

DT randomDT(const Shape &shape, std::mt19937 &rng, float lo, float hi) {
  DT t(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (double &x : t.v)
    x = dist(rng);
  return t;
}

double dot(const DT &a, const DT &b) {
  double s = 0;
  for (size_t i = 0; i < a.v.size(); ++i)
    s += a.v[i] * b.v[i];
  return s;
}

DT finiteDiff(const std::function<double()> &L, DT &t) {
  DT g(t.shape);
  for (size_t i = 0; i < t.v.size(); ++i) {
    double saved = t.v[i];
    t.v[i] = saved + kEps;
    double plus = L();
    t.v[i] = saved - kEps;
    double minus = L();
    t.v[i] = saved;
    g.v[i] = (plus - minus) / (2 * kEps);
  }
  return g;
}

void expectNear(const Halide::Buffer<float> &got, const DT &want,
                const std::string &what) {
  ASSERT_EQ(size_t(got.number_of_elements()), want.v.size()) << what;
  DT g = toDT(got);
  int bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < want.v.size(); ++i)
    if (!withinTol(g.v[i], want.v[i], kTol) && bad++ == 0)
      first << "at flat index " << i << " got " << g.v[i] << " want "
            << want.v[i];
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches, first "
                    << first.str();
}

struct Spec {
  int C, H, W;
  bool training;
};

std::string label(const Spec &s) {
  return std::string(s.training ? "training" : "eval") + " C" +
         std::to_string(s.C) + " " + std::to_string(s.H) + "x" +
         std::to_string(s.W);
}

/// Builds, schedules and checks one batch norm with all its training ops.
void checkBatchNorm(const Spec &s, std::mt19937 &rng) {
  const Shape xShape{kDynamic, s.C, s.H, s.W}, cShape{s.C};
  Input x = makeInput("x", xShape), dy = makeInput("dy", xShape),
        w = makeInput("w", cShape), b = makeInput("b", cShape),
        rm = makeInput("rm", cShape), rv = makeInput("rv", cShape);
  Halide::Expr batch = x.param.dim(3).extent();
  ChannelStats stats = channelStats(x.tensor, batch, "stats");
  const ChannelStats *used = s.training ? &stats : nullptr;

  std::vector<LoweredOp> ops{batchNorm2d(x.tensor, w.tensor, b.tensor,
                                         rm.tensor, rv.tensor, kBnEps, used)};
  std::vector<LoweredGrad> grads{
      batchNorm2dInputGrad(x.tensor, dy.tensor, w.tensor, rm.tensor, rv.tensor,
                           kBnEps, used, batch),
      batchNorm2dWeightGrad(x.tensor, dy.tensor, rm.tensor, rv.tensor, kBnEps,
                            used, batch),
      biasGrad(dy.tensor, batch)};
  if (s.training)
    grads.push_back(
        batchNorm2dStatsUpdate(rm.tensor, rv.tensor, stats, kMomentum));
  std::vector<Tensor> outputs{ops[0].output};
  for (const LoweredGrad &g : grads) {
    outputs.push_back(g.output);
    for (const Tensor &t : g.extraOutputs)
      outputs.push_back(t);
  }
  std::vector<Halide::Func> funcs;
  for (Tensor &t : outputs) {
    constrainToShape(t.func.output_buffer(), t.shape);
    funcs.push_back(t.func);
  }
  applyDefaultCpuSchedule(ops, hostTarget(), {ops[0].output.func});
  applyDefaultGradientSchedule(grads, hostTarget());
  Halide::Pipeline pipeline(funcs);
  pipeline.compile_jit(hostTarget());

  for (int n : {1, 3}) {
    DT xv = randomDT(withBatch(xShape, n), rng, -1, 1);
    DT r = randomDT(withBatch(xShape, n), rng, -1, 1);
    DT wv = randomDT(cShape, rng, 0.5f, 1.5f),
       bv = randomDT(cShape, rng, -1, 1);
    DT mv = randomDT(cShape, rng, -0.5f, 0.5f),
       vv = randomDT(cShape, rng, 0.5f, 2.0f);
    x.param.set(toBuf(xv));
    dy.param.set(toBuf(r));
    w.param.set(toBuf(wv));
    b.param.set(toBuf(bv));
    rm.param.set(toBuf(mv));
    rv.param.set(toBuf(vv));
    std::vector<Halide::Buffer<>> results;
    for (const Tensor &t : outputs)
      results.push_back(makeBuffer(withBatch(t.shape, n)));
    Halide::Realization realization(results);
    pipeline.realize(realization);

    auto L = [&] {
      return dot(refBatchNorm(xv, wv, bv, mv, vv, kBnEps, s.training), r);
    };
    std::string what = label(s) + " batch " + std::to_string(n);
    expectNear(results[0], refBatchNorm(xv, wv, bv, mv, vv, kBnEps, s.training),
               what + " forward");
    expectNear(results[1], finiteDiff(L, xv), what + " dx");
    expectNear(results[2], finiteDiff(L, wv), what + " d weight");
    expectNear(results[3], finiteDiff(L, bv), what + " d bias");
    if (!s.training)
      continue;
    DT mean, var, wantMean(cShape), wantVar(cShape);
    refChannelStats(xv, mean, var);
    const double M = double(n) * s.H * s.W;
    for (int c = 0; c < s.C; ++c) {
      wantMean.v[c] = (1 - kMomentum) * mv.v[c] + kMomentum * mean.v[c];
      wantVar.v[c] =
          (1 - kMomentum) * vv.v[c] + kMomentum * var.v[c] * M / (M - 1);
    }
    expectNear(results[4], wantMean, what + " running_mean");
    expectNear(results[5], wantVar, what + " running_var");
  }
}

// Rows of 37 (a guarded tail of the per-channel sums' x lanes), of 6 (one
// short vector), a 1 x 2 plane (2 values per channel at batch 1).
const std::vector<Spec> kShapes = {
    {3, 5, 37, false}, {4, 3, 6, false}, {2, 1, 2, false}};

TEST(HalideBatchNorm, EvalModeForwardAndGradients) {
  std::mt19937 rng(11);
  for (const Spec &s : kShapes)
    checkBatchNorm(s, rng);
}

TEST(HalideBatchNorm, TrainingModeForwardGradientsAndRunningStats) {
  std::mt19937 rng(12);
  for (Spec s : kShapes) {
    s.training = true;
    checkBatchNorm(s, rng);
  }
}

TEST(HalideBatchNorm, BadShapesThrow) {
  Input x = makeInput("x", {kDynamic, 3, 4, 4});
  Input w = makeInput("w", {4});
  EXPECT_THROW(batchNorm2d(x.tensor, w.tensor, w.tensor, w.tensor, w.tensor,
                           kBnEps, nullptr),
               std::invalid_argument);
  Input flat = makeInput("flat", {kDynamic, 12});
  EXPECT_THROW(channelStats(flat.tensor, 1), std::invalid_argument);
}

} // namespace
