// Error, Status, Expected and the Tensor basics.
#include "TestUtil.h"

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

namespace cnnc::rt {
namespace {

Expected<int> half(int x) {
  if (x % 2)
    return Error(std::to_string(x) + " is odd");
  return x / 2;
}

Status checkPositive(int x) {
  if (x <= 0)
    return Error("not positive");
  return Status::success();
}

Expected<int> viaStatus(int x) {
  if (Status s = checkPositive(x); !s)
    return s; // a failed Status converts to a failed Expected
  return x;
}

TEST(ErrorTest, ExpectedHoldsValueOrError) {
  Expected<int> ok = half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  EXPECT_TRUE(ok.status().ok());

  Expected<int> bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "3 is odd");
  EXPECT_EQ(bad.status().message(), "3 is odd");
}

TEST(ErrorTest, FailedStatusPropagatesThroughExpected) {
  EXPECT_EQ(*viaStatus(5), 5);
  EXPECT_EQ(viaStatus(-1).message(), "not positive");
}

TEST(TensorTest, ShapeToString) {
  EXPECT_EQ(shapeToString({6, 3, 5, 5}), "[6, 3, 5, 5]");
  EXPECT_EQ(shapeToString({}), "[]");
}

TEST(TensorTest, ZeroFilledWithSizes) {
  Tensor t(DType::I64, {2, 3});
  EXPECT_EQ(t.numElements(), 6);
  EXPECT_EQ(t.byteSize(), 48u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(t.i64()[i], 0);
  Tensor scalar(DType::F32, {});
  EXPECT_EQ(scalar.numElements(), 1);
  EXPECT_EQ(scalar.rank(), 0);
}

TEST(TensorTest, CreateRejectsNegativeAndOverflowingShapes) {
  EXPECT_ERROR_CONTAINS(Tensor::create(DType::F32, {2, -1}, "x.npy"),
                        "x.npy: shape [2, -1] has a negative dimension");
  EXPECT_ERROR_CONTAINS(
      Tensor::create(DType::F32, {1ll << 40, 1ll << 40}, "x.npy"),
      "is too large");
  // The element count fits int64 but its byte size does not.
  EXPECT_ERROR_CONTAINS(Tensor::create(DType::I64, {1ll << 61}, "x.npy"),
                        "too large");
}

} // namespace
} // namespace cnnc::rt
