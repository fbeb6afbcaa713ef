// npy:IMAGES.npy,LABELS.npy datasets.
#include "DataTestUtil.h"

#include "cnnc/Npy.h"
#include "cnnc/data/NpyDataset.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace cnnc::rt::data {
namespace {

using namespace test;

Tensor floats(Shape shape) {
  Tensor t(DType::F32, std::move(shape));
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.f32()[i] = 0.25f * static_cast<float>(i) - 3.0f;
  return t;
}

Tensor int64s(std::vector<int64_t> values) {
  Tensor t(DType::I64, {static_cast<int64_t>(values.size())});
  if (!values.empty()) // memcpy must not see the null pointers of empty storage
    std::memcpy(t.bytes(), values.data(), t.byteSize());
  return t;
}

class NpyDatasetTest : public TempDirTest {
protected:
  void write(const std::string &name, const Tensor &t) {
    ASSERT_TRUE(writeNpy(path(name), t).ok());
  }
  Expected<Dataset> load(int64_t classes = 0) {
    return loadNpyDataset(path("x.npy"), path("y.npy"), classes);
  }
};

TEST_F(NpyDatasetTest, LoadsNCHWAsIs) {
  Tensor x = floats({3, 2, 4, 5});
  write("x.npy", x);
  write("y.npy", int64s({2, 0, 5}));
  Expected<Dataset> d = load();
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_TRUE(cnnc::rt::test::sameTensor(d->images, x));
  EXPECT_EQ(d->imageShape(), (Shape{2, 4, 5}));
  EXPECT_EQ(d->label(2), 5);
  EXPECT_EQ(d->numClasses, 6); // max label + 1
  EXPECT_TRUE(d->classNames.empty());
  EXPECT_EQ(d->labelsSource, path("y.npy"));
  EXPECT_TRUE(validateDataset(*d).ok());
}

TEST_F(NpyDatasetTest, ThreeDimensionalImagesGetOneChannel) {
  Tensor x = floats({2, 3, 3});
  write("x.npy", x);
  write("y.npy", int64s({1, 1}));
  Expected<Dataset> d = load();
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->images.shape(), (Shape{2, 1, 3, 3}));
  EXPECT_EQ(0, std::memcmp(d->images.bytes(), x.bytes(), x.byteSize()));
}

TEST_F(NpyDatasetTest, GivenClassCount) {
  write("x.npy", floats({2, 1, 2, 2}));
  write("y.npy", int64s({1, 3}));
  Expected<Dataset> d = load(10);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->numClasses, 10);
  EXPECT_ERROR_CONTAINS(
      load(3),
      path("y.npy") + ": label 3 at index 1 is out of range for 3 classes");
}

TEST_F(NpyDatasetTest, CountMismatch) {
  write("x.npy", floats({3, 1, 2, 2}));
  write("y.npy", int64s({1, 2}));
  EXPECT_ERROR_CONTAINS(load(), path("y.npy") + ": 2 labels but " +
                                    path("x.npy") + " holds 3 images");
}

TEST_F(NpyDatasetTest, NegativeLabel) {
  write("x.npy", floats({3, 1, 2, 2}));
  write("y.npy", int64s({1, -1, 2}));
  EXPECT_ERROR_CONTAINS(
      load(), "label -1 at index 1 is out of range (labels must be >= 0)");
}

TEST_F(NpyDatasetTest, WrongDtypes) {
  write("x.npy", int64s({1, 2}));
  write("y.npy", int64s({1, 2}));
  EXPECT_ERROR_CONTAINS(load(),
                        path("x.npy") + ": images must be float32, got I64");

  write("x.npy", floats({2, 1, 2, 2}));
  write("y.npy", floats({2}));
  EXPECT_ERROR_CONTAINS(load(),
                        path("y.npy") + ": labels must be int64, got F32");

  // int32 labels (numpy's '<i4'): the npy reader refuses them; say how to fix.
  Tensor y = int64s({1, 2});
  std::string header = npyHeader(y);
  header.replace(header.find("<i8"), 3, "<i4");
  int32_t data[2] = {1, 2};
  writeBytes(path("y.npy"),
             header + std::string(reinterpret_cast<char *>(data), 8));
  EXPECT_ERROR_CONTAINS(load(), "labels.astype(numpy.int64)");
}

TEST_F(NpyDatasetTest, WrongRanksAndEmpty) {
  write("x.npy", floats({4, 4}));
  write("y.npy", int64s({1, 2, 3, 4}));
  EXPECT_ERROR_CONTAINS(load(),
                        "images must be [N, C, H, W] or [N, H, W], got [4, 4]");

  write("x.npy", floats({2, 1, 2, 2}));
  Tensor y2(DType::I64, {2, 1});
  write("y.npy", y2);
  EXPECT_ERROR_CONTAINS(load(), "labels must be [N], got [2, 1]");

  write("x.npy", floats({0, 1, 2, 2}));
  write("y.npy", int64s({}));
  EXPECT_ERROR_CONTAINS(load(), "holds no images");
}

TEST_F(NpyDatasetTest, NonFinitePixels) {
  Tensor x = floats({2, 1, 2, 2});
  x.f32()[6] = std::numeric_limits<float>::quiet_NaN();
  write("x.npy", x);
  write("y.npy", int64s({0, 1}));
  EXPECT_ERROR_CONTAINS(load(),
                        path("x.npy") + ": image 1 holds NaN at element 2");
  x.f32()[6] = 0;
  x.f32()[0] = std::numeric_limits<float>::infinity();
  write("x.npy", x);
  EXPECT_ERROR_CONTAINS(load(), "image 0 holds an infinity at element 0");
}

TEST_F(NpyDatasetTest, MissingFiles) {
  EXPECT_ERROR_CONTAINS(load(), path("x.npy") + ": no such file");
  write("x.npy", floats({2, 1, 2, 2}));
  EXPECT_ERROR_CONTAINS(load(), path("y.npy") + ": no such file");
}

} // namespace
} // namespace cnnc::rt::data
