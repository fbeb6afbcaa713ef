// SgdOptimizer and ModelLibrary::trainStep against a hand computation of
// softmax cross-entropy and torch's SGD rule over several steps.
#include "TrainTestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/train/Optimizer.h"

#include <cmath>
#include <dlfcn.h>

namespace cnnc::rt {
namespace {

using test::cyclicLabels;
using test::separableImages;

// Reference: the gradient of mean softmax CE of a linear layer, in double.
void referenceGradient(const std::vector<double> &w,
                       const std::vector<double> &b, const Tensor &x,
                       const Tensor &y, std::vector<double> &gw,
                       std::vector<double> &gb, double &loss) {
  const int64_t n = x.shape()[0];
  gw.assign(24, 0.0);
  gb.assign(3, 0.0);
  loss = 0;
  for (int64_t s = 0; s < n; ++s) {
    double z[3], m = -INFINITY, sum = 0;
    for (int o = 0; o < 3; ++o) {
      z[o] = b[o];
      for (int i = 0; i < 8; ++i)
        z[o] += w[o * 8 + i] * x.f32()[s * 8 + i];
      m = std::max(m, z[o]);
    }
    for (double v : z)
      sum += std::exp(v - m);
    loss += (m + std::log(sum) - z[y.i64()[s]]) / static_cast<double>(n);
    for (int o = 0; o < 3; ++o) {
      double dz = (std::exp(z[o] - m) / sum - (o == y.i64()[s])) /
                  static_cast<double>(n);
      gb[o] += dz;
      for (int i = 0; i < 8; ++i)
        gw[o * 8 + i] += dz * x.f32()[s * 8 + i];
    }
  }
}

std::vector<Tensor> initialParameters() {
  Tensor w(DType::F32, {3, 8}), b(DType::F32, {3});
  for (int k = 0; k < 24; ++k)
    w.f32()[k] = 0.01f * static_cast<float>(k % 5) - 0.02f;
  for (int k = 0; k < 3; ++k)
    b.f32()[k] = 0.1f * static_cast<float>(k);
  std::vector<Tensor> p;
  p.push_back(std::move(w));
  p.push_back(std::move(b));
  return p;
}

std::vector<double> toDouble(const Tensor &t) {
  return std::vector<double>(t.f32(), t.f32() + t.numElements());
}

class OptimizerTest : public ::testing::Test {
protected:
  void SetUp() override {
    Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
    ASSERT_TRUE(m.ok()) << m.message();
    model_.emplace(std::move(*m));
  }

  // Runs `steps` SGD steps with the optimizer and by hand, batch b of a
  // 12-sample set being samples 4b..4b+3, and compares.
  void compareWithHand(const SgdOptions &o, const char *model, int steps) {
    Expected<ModelLibrary> lib = ModelLibrary::load(model);
    ASSERT_TRUE(lib.ok()) << lib.message();
    const bool frozenBias = !lib->trainable()[1];
    Expected<SgdOptimizer> opt =
        SgdOptimizer::create(*lib, initialParameters());
    ASSERT_TRUE(opt.ok()) << opt.message();
    std::vector<Tensor> init = initialParameters();
    std::vector<double> w = toDouble(init[0]), b = toDouble(init[1]);
    std::vector<double> vw(24, 0.0), vb(3, 0.0);
    Tensor all = separableImages(12), labels = cyclicLabels(12);
    const double lrs[] = {0.1, 0.05, 0.025, 0.0125};
    for (int s = 0; s < steps; ++s) {
      Tensor x(DType::F32, {4, 2, 2, 2}), y(DType::I64, {4});
      std::copy(all.f32() + (s % 3) * 32, all.f32() + (s % 3) * 32 + 32,
                x.f32());
      std::copy(labels.i64() + (s % 3) * 4, labels.i64() + (s % 3) * 4 + 4,
                y.i64());
      std::vector<double> gw, gb;
      double loss = 0;
      referenceGradient(w, b, x, y, gw, gb, loss);
      auto update = [&](std::vector<double> &p, std::vector<double> &v,
                        const std::vector<double> &grad) {
        for (size_t k = 0; k < p.size(); ++k) {
          double g = grad[k] + o.weightDecay * p[k];
          double d = g;
          if (o.momentum != 0) {
            v[k] = s == 0 ? g : o.momentum * v[k] + g;
            d = o.nesterov ? g + o.momentum * v[k] : v[k];
          }
          p[k] -= lrs[s] * d;
        }
      };
      update(w, vw, gw);
      if (!frozenBias)
        update(b, vb, gb);

      Expected<float> got = opt->step(x, y, lrs[s], o, "labels.npy");
      ASSERT_TRUE(got.ok()) << got.message();
      EXPECT_NEAR(*got, loss, 1e-5) << "step " << s;
      EXPECT_EQ(opt->steps(), s + 1);
      for (int k = 0; k < 24; ++k)
        ASSERT_NEAR(opt->parameters()[0].f32()[k], w[k], 1e-5)
            << "step " << s << " w" << k;
      for (int k = 0; k < 3; ++k)
        ASSERT_NEAR(opt->parameters()[1].f32()[k], b[k], 1e-5)
            << "step " << s << " b" << k;
      if (o.momentum != 0) {
        for (int k = 0; k < 24; ++k)
          ASSERT_NEAR(opt->momentum()[0].f32()[k], vw[k], 1e-5) << "step " << s;
      }
    }
    if (frozenBias) {
      EXPECT_TRUE(test::sameTensor(opt->parameters()[1], init[1]));
      EXPECT_EQ(opt->momentum()[1].numElements(),
                0); // no buffer for a frozen parameter
    }
  }

  std::optional<ModelLibrary> model_;
};

TEST_F(OptimizerTest, MomentumStartsWithTheGradientThenAccumulates) {
  compareWithHand({0.1, 0.9, 0.01, false}, CNNC_FAKE_MODEL, 4);
}

TEST_F(OptimizerTest, NesterovMomentum) {
  compareWithHand({0.1, 0.8, 0.0, true}, CNNC_FAKE_MODEL, 3);
}

TEST_F(OptimizerTest, PlainSgdWithoutMomentumLeavesTheBuffersAlone) {
  compareWithHand({0.1, 0.0, 0.001, false}, CNNC_FAKE_MODEL, 3);
}

TEST_F(OptimizerTest, FrozenParametersAreNeverUpdated) {
  compareWithHand({0.1, 0.9, 0.01, false}, CNNC_FAKE_MODEL_FROZEN, 3);
}

TEST_F(OptimizerTest, ResumingWithTheStepCountContinuesTheMomentum) {
  // Two steps, then a new optimizer from the state after one: the same result.
  Tensor x = separableImages(4), y = cyclicLabels(4);
  SgdOptions o{0.1, 0.9, 0.0, false};
  Expected<SgdOptimizer> a = SgdOptimizer::create(*model_, initialParameters());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->step(x, y, 0.1, o, "y").ok());
  Expected<SgdOptimizer> b =
      SgdOptimizer::create(*model_, a->parameters(), a->momentum(), a->steps());
  ASSERT_TRUE(b.ok()) << b.message();
  ASSERT_TRUE(a->step(x, y, 0.1, o, "y").ok());
  ASSERT_TRUE(b->step(x, y, 0.1, o, "y").ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(test::sameTensor(a->parameters()[i], b->parameters()[i]));
    EXPECT_TRUE(test::sameTensor(a->momentum()[i], b->momentum()[i]));
  }
  // Restarting the count instead makes the second step a first step: different.
  Expected<SgdOptimizer> c =
      SgdOptimizer::create(*model_, b->parameters(), b->momentum(), 0);
  Expected<SgdOptimizer> d =
      SgdOptimizer::create(*model_, b->parameters(), b->momentum(), 2);
  ASSERT_TRUE(c->step(x, y, 0.1, o, "y").ok());
  ASSERT_TRUE(d->step(x, y, 0.1, o, "y").ok());
  EXPECT_FALSE(test::sameTensor(c->parameters()[0], d->parameters()[0]));
}

// The fake's record of its last step's dropout seed and step index.
template <typename T> T fakeRecord(const char *symbol) {
  void *handle = dlopen(CNNC_FAKE_MODEL, RTLD_NOW | RTLD_NOLOAD);
  if (!handle)
    return T(-100);
  auto *value = static_cast<T *>(dlsym(handle, symbol));
  T result = value ? *value : T(-200);
  dlclose(handle);
  return result;
}

TEST_F(OptimizerTest, EachStepDrawsTheMasksOfItsIndexUnderTheRunsSeed) {
  Tensor x = separableImages(4), y = cyclicLabels(4);
  SgdOptions o{0.1, 0.9, 0.0, false};
  const uint64_t seed = 0x123456789abcdefULL;
  Expected<SgdOptimizer> a =
      SgdOptimizer::create(*model_, initialParameters(), {}, 0, seed);
  ASSERT_TRUE(a.ok()) << a.message();
  for (int64_t step = 0; step < 3; ++step) {
    ASSERT_TRUE(a->step(x, y, 0.1, o, "y").ok());
    EXPECT_EQ(fakeRecord<uint64_t>("fake_last_seed"), seed);
    EXPECT_EQ(fakeRecord<int64_t>("fake_last_step_index"), step);
  }
  // A resumed run continues the count.
  Expected<SgdOptimizer> b =
      SgdOptimizer::create(*model_, a->parameters(), a->momentum(), 7, 5);
  ASSERT_TRUE(b.ok()) << b.message();
  ASSERT_TRUE(b->step(x, y, 0.1, o, "y").ok());
  EXPECT_EQ(fakeRecord<uint64_t>("fake_last_seed"), 5u);
  EXPECT_EQ(fakeRecord<int64_t>("fake_last_step_index"), 7);
}

TEST_F(OptimizerTest, BadLabelsNameTheirSourceAndLeaveTheStateAlone) {
  Expected<SgdOptimizer> opt =
      SgdOptimizer::create(*model_, initialParameters());
  ASSERT_TRUE(opt.ok());
  Tensor x = separableImages(4), y = cyclicLabels(4);
  y.i64()[2] = 3;
  EXPECT_ERROR_CONTAINS(
      opt->step(x, y, 0.1, {0.1, 0.9, 0, false}, "data/labels.npy"),
      "data/labels.npy: label 3 is out of range for the network "
      "'fake_linear' with 3 outputs");
  y.i64()[2] = -1;
  EXPECT_ERROR_CONTAINS(
      opt->step(x, y, 0.1, {0.1, 0.9, 0, false}, "data/labels.npy"),
      "label -1");
  EXPECT_EQ(opt->steps(), 0);
  std::vector<Tensor> init = initialParameters();
  EXPECT_TRUE(test::sameTensor(opt->parameters()[0], init[0]));
}

TEST_F(OptimizerTest, TrainStepChecksShapesAndAliasing) {
  std::vector<Tensor> p = initialParameters(), v = initialParameters(),
                      pn = initialParameters(), vn = initialParameters();
  std::vector<const Tensor *> cp = {&p[0], &p[1]}, cv = {&v[0], &v[1]};
  std::vector<Tensor *> np = {&pn[0], &pn[1]}, nv = {&vn[0], &vn[1]};
  ModelLibrary::SgdStep step;
  step.momentum = 0.9f;
  Tensor x = separableImages(4), y = cyclicLabels(4);
  EXPECT_TRUE(model_->trainStep(x, y, cp, cv, np, nv, step, "y").ok());

  Tensor badX(DType::F32, {4, 8});
  EXPECT_ERROR_CONTAINS(model_->trainStep(badX, y, cp, cv, np, nv, step, "y"),
                        "takes [N, 2, 2, 2]");
  Tensor badY(DType::I64, {3});
  EXPECT_ERROR_CONTAINS(
      model_->trainStep(x, badY, cp, cv, np, nv, step, "y.npy"),
      "y.npy: the labels of a batch of 4 must be I64 [4]");
  std::vector<Tensor *> aliased = {const_cast<Tensor *>(cp[0]), &pn[1]};
  EXPECT_ERROR_CONTAINS(model_->trainStep(x, y, cp, cv, aliased, nv, step, "y"),
                        "must not alias");
  Tensor wrong(DType::F32, {8, 3});
  std::vector<Tensor *> wrongV = {&wrong, &vn[1]};
  EXPECT_ERROR_CONTAINS(model_->trainStep(x, y, cp, cv, np, wrongV, step, "y"),
                        "the new momentum buffer of 'fc.weight' is F32 [8, 3]");
  std::vector<const Tensor *> nullV = {nullptr, &v[1]};
  EXPECT_ERROR_CONTAINS(model_->trainStep(x, y, cp, nullV, np, nv, step, "y"),
                        "the momentum buffer of 'fc.weight' is missing");
}

} // namespace
} // namespace cnnc::rt
