// PyTorch's default initialisation.
#include "TestUtil.h"

#include "cnnc/Init.h"

#include <cmath>

namespace cnnc::rt {
namespace {

const std::vector<ParameterSpec> kLeNetHead = {
    {"conv1.weight", {6, 3, 5, 5}},
    {"conv1.bias", {6}},
    {"fc1.weight", {120, 400}},
    {"fc1.bias", {120}},
};

struct Stats {
  double min = 1e30, max = -1e30, mean = 0, var = 0;
};

Stats stats(const Tensor &t) {
  Stats s;
  for (int64_t i = 0; i < t.numElements(); ++i) {
    double v = t.f32()[i];
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    s.mean += v;
  }
  s.mean /= static_cast<double>(t.numElements());
  for (int64_t i = 0; i < t.numElements(); ++i)
    s.var += (t.f32()[i] - s.mean) * (t.f32()[i] - s.mean);
  s.var /= static_cast<double>(t.numElements());
  return s;
}

bool sameBytes(const Tensor &a, const Tensor &b) {
  return test::sameTensor(a, b);
}

TEST(InitTest, WeightsAreUniformWithinOneOverSqrtFanIn) {
  Expected<TensorMap> init = initParameters(kLeNetHead, 0);
  ASSERT_TRUE(init.ok()) << init.message();
  // fan_in: 3*5*5 = 75 for conv1, 400 for fc1.
  for (auto [name, fanIn] :
       {std::pair{"conv1.weight", 75.0}, {"fc1.weight", 400.0}}) {
    const Tensor &w = init->at(name);
    double bound = 1.0 / std::sqrt(fanIn);
    Stats s = stats(w);
    EXPECT_GE(s.min, -bound) << name;
    EXPECT_LT(s.max, bound) << name;
    // A uniform sample of 450+ values nearly reaches both ends...
    EXPECT_LT(s.min, -0.95 * bound) << name;
    EXPECT_GT(s.max, 0.95 * bound) << name;
    // ...is centred, and has the variance of U(-b, b), b^2/3.
    EXPECT_NEAR(s.mean, 0.0, 0.1 * bound) << name;
    EXPECT_NEAR(s.var, bound * bound / 3, 0.15 * bound * bound / 3) << name;
  }
}

TEST(InitTest, BiasesUseTheirWeightsFanIn) {
  Expected<TensorMap> init = initParameters(kLeNetHead, 1);
  ASSERT_TRUE(init.ok()) << init.message();
  const Tensor &b = init->at("fc1.bias");
  Stats s = stats(b);
  EXPECT_GE(s.min, -1.0 / 20);
  EXPECT_LT(s.max, 1.0 / 20);
  // Not all zero, and spread over the range (120 samples).
  EXPECT_GT(s.max - s.min, 1.0 / 20);
  const Tensor &cb = init->at("conv1.bias");
  for (int i = 0; i < 6; ++i)
    EXPECT_LT(std::abs(cb.f32()[i]), 1.0 / std::sqrt(75.0));
}

TEST(InitTest, DeterministicBySeedAndIndependentOfOtherParameters) {
  Expected<TensorMap> a = initParameters(kLeNetHead, 42);
  Expected<TensorMap> b = initParameters(kLeNetHead, 42);
  Expected<TensorMap> c = initParameters(kLeNetHead, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (const auto &[name, t] : *a) {
    EXPECT_TRUE(sameBytes(t, b->at(name))) << name;
    EXPECT_FALSE(sameBytes(t, c->at(name))) << name;
  }
  // Weight and bias of the same layer are different streams.
  EXPECT_NE(a->at("conv1.weight").f32()[0], a->at("conv1.bias").f32()[0]);
  // A new head leaves the other layers' values as they were.
  std::vector<ParameterSpec> other = {
      kLeNetHead[0], kLeNetHead[1], {"fc.weight", {2, 400}}, {"fc.bias", {2}}};
  Expected<TensorMap> d = initParameters(other, 42);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_TRUE(sameBytes(a->at("conv1.weight"), d->at("conv1.weight")));
}

TEST(InitTest, NormalisationParameters) {
  std::vector<ParameterSpec> bn = {{"bn1.weight", {4}},
                                   {"bn1.bias", {4}},
                                   {"bn1.running_mean", {4}},
                                   {"bn1.running_var", {4}}};
  Expected<TensorMap> init = initParameters(bn, 0);
  ASSERT_TRUE(init.ok()) << init.message();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(init->at("bn1.weight").f32()[i], 1.0f);
    EXPECT_EQ(init->at("bn1.bias").f32()[i], 0.0f);
    EXPECT_EQ(init->at("bn1.running_mean").f32()[i], 0.0f);
    EXPECT_EQ(init->at("bn1.running_var").f32()[i], 1.0f);
  }
}

TEST(InitTest, ReportsParametersItCannotInitialise) {
  EXPECT_ERROR_CONTAINS(
      initParameters({{"fc.bias", {3}}}, 0),
      "parameter 'fc.bias' has no 'fc.weight' to take its fan_in from");
  EXPECT_ERROR_CONTAINS(initParameters({{"emb.table", {3, 4}}}, 0),
                        "parameter 'emb.table' has no default initialisation");
  EXPECT_ERROR_CONTAINS(
      initParameters({{"fc.weight", {3, 0}}}, 0),
      "parameter 'fc.weight' has shape [3, 0], whose fan_in is 0");
  EXPECT_ERROR_CONTAINS(
      initParameters({{"fc.weight", {3, 4}}, {"fc.weight", {3, 4}}}, 0),
      "parameter 'fc.weight' appears twice");
}

} // namespace
} // namespace cnnc::rt
