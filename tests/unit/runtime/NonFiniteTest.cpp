// Finding and describing NaN and infinite values (cnnc/NonFinite.h).
#include "cnnc/NonFinite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cnnc::rt {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(NonFiniteTest, AFiniteTensorHasNone) {
  Tensor t(DType::F32, {2, 3});
  t.f32()[4] = std::numeric_limits<float>::max();
  t.f32()[5] = std::numeric_limits<float>::denorm_min();
  NonFiniteValues v = findNonFinite(t);
  EXPECT_FALSE(v.any());
  EXPECT_EQ(describeNonFinite(v), "");
}

TEST(NonFiniteTest, CountsEachKindAndLocatesTheFirstInRowMajorOrder) {
  Tensor t(DType::F32, {2, 3, 4});
  t.f32()[1 * 12 + 2 * 4 + 0] = kNaN;  // [1, 2, 0]
  t.f32()[0 * 12 + 1 * 4 + 2] = -kInf; // [0, 1, 2], the first
  t.f32()[23] = kInf;
  NonFiniteValues v = findNonFinite(t);
  EXPECT_EQ(v.nans, 1);
  EXPECT_EQ(v.infinities, 2);
  EXPECT_EQ(v.first, (Shape{0, 1, 2}));
  EXPECT_EQ(describeNonFinite(v),
            "holds 1 NaN and 2 infinite values, the first at [0, 1, 2]");

  Tensor one(DType::F32, {5});
  one.f32()[4] = kNaN;
  EXPECT_EQ(describeNonFinite(findNonFinite(one)),
            "holds 1 NaN value, the first at [4]");
}

TEST(NonFiniteTest, IntegerTensorsHaveNone) {
  Tensor t(DType::I64, {3});
  t.i64()[0] = -1;
  EXPECT_FALSE(findNonFinite(t).any());
}

TEST(NonFiniteTest, ParametersAreNamedInOrderAndSkippedOnesIgnored) {
  std::vector<ParameterSpec> specs = {
      {"conv.weight", {2, 2}}, {"conv.bias", {2}}, {"fc.weight", {1, 2}}};
  Tensor w(DType::F32, {2, 2}), b(DType::F32, {2}), fc(DType::F32, {1, 2});
  w.f32()[3] = kInf;
  b.f32()[0] = kNaN;
  fc.f32()[1] = kNaN;
  std::vector<std::string> lines =
      nonFiniteParameters(specs, {&w, &b, nullptr});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "tensor 'conv.weight' holds 1 infinite value, the first at [1, 1]");
  EXPECT_EQ(lines[1], "tensor 'conv.bias' holds 1 NaN value, the first at [0]");
  EXPECT_TRUE(nonFiniteParameters(specs, {}).empty());
}

} // namespace
} // namespace cnnc::rt
