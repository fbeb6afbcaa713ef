// Error, Status, Expected and the Tensor basics.
#include "TestUtil.h"

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <algorithm>
#include <cstdint>

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

// Large blocks are aligned for huge pages; every block for any vector load.
TEST(TensorTest, ZeroFilledAndAlignedAtEverySize) {
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{3} << 20}) {
    Tensor t(DType::U8, {n});
    ASSERT_EQ(t.byteSize(), static_cast<size_t>(n));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.bytes()) % 64, 0u) << n;
    if (n >= (int64_t{2} << 20)) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.bytes()) % (2 << 20), 0u);
    }
    EXPECT_EQ(std::count(t.u8(), t.u8() + n, 0), n) << n;
  }
}

TEST(TensorTest, AdoptsBytesOfTheRightSizeWithoutCopying) {
  Bytes bytes(12);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<unsigned char>(i);
  const unsigned char *storage = bytes.data();
  Expected<Tensor> t = Tensor::adopt(DType::U8, {3, 4}, std::move(bytes), "x");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->bytes(), storage);
  EXPECT_EQ(t->u8()[11], 11);
  EXPECT_EQ(t->numElements(), 12);
  EXPECT_ERROR_CONTAINS(Tensor::adopt(DType::F32, {3, 4}, Bytes(12), "x.idx"),
                        "x.idx: 12 bytes for a tensor of shape [3, 4]");
  EXPECT_ERROR_CONTAINS(Tensor::adopt(DType::F32, {-3}, Bytes(12), "x.idx"),
                        "negative dimension");
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
