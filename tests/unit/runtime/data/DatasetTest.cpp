// Dataset invariants and the checks against a network.
#include "DataTestUtil.h"

#include "cnnc/data/Dataset.h"

namespace cnnc::rt::data {
namespace {

using namespace test;

TEST(DatasetTest, AccessorsAndValidation) {
  auto d = syntheticDataset(4, {2, 3, 3}, 3);
  EXPECT_EQ(d->size(), 4);
  EXPECT_EQ(d->imageShape(), (Shape{2, 3, 3}));
  std::vector<float> image(18);
  d->copyImage(2, image.data());
  EXPECT_EQ(image[5], 2005.0f);
  EXPECT_EQ(d->label(2), 2);
  EXPECT_TRUE(validateDataset(*d).ok());

  d->classNames = {"a", "b"};
  EXPECT_ERROR_CONTAINS(validateDataset(*d),
                        "synthetic labels: 2 class names for 3 classes");
  d->classNames.clear();
  d->labels.i64()[3] = 3;
  EXPECT_ERROR_CONTAINS(
      validateDataset(*d),
      "synthetic labels: label 3 at index 3 is out of range for 3 classes");
  d->labels = Tensor(DType::I64, {3});
  EXPECT_ERROR_CONTAINS(validateDataset(*d),
                        "3 labels for 4 images in synthetic images");
  d->images = Tensor(DType::F32, {4, 9});
  EXPECT_ERROR_CONTAINS(
      validateDataset(*d),
      "synthetic images: images must be float32 or uint8 [N, C, H, W], got "
      "F32 [4, 9]");
  EXPECT_EQ(d->size(), 0);
  d->labels = Tensor(DType::I64, {4});
  d->images = Tensor(DType::I64, {4, 1, 1, 1});
  EXPECT_ERROR_CONTAINS(validateDataset(*d),
                        "images must be float32 or uint8 [N, C, H, W], got "
                        "I64 [4, 1, 1, 1]");
}

// Bytes read as byte / 255, in float as torchvision's ToTensor divides.
TEST(DatasetTest, ByteImagesReadAsToTensorDoes) {
  auto d = syntheticDataset(2, {1, 2, 2}, 3);
  d->images = Tensor(DType::U8, {2, 1, 2, 2});
  for (int64_t k = 0; k < 8; ++k)
    d->images.u8()[k] = static_cast<uint8_t>(k == 7 ? 255 : 37 * k);
  EXPECT_TRUE(validateDataset(*d).ok());
  std::vector<float> image(4);
  d->copyImage(1, image.data());
  EXPECT_EQ(image[0], 148.0f / 255.0f);
  EXPECT_EQ(image[2], 222.0f / 255.0f);
  EXPECT_EQ(image[3], 1.0f);

  // Every byte value, in images longer than a vector with a tail (the
  // conversion is vectorised): the same floats, element by element.
  auto large = syntheticDataset(2, {1, 16, 17}, 3);
  large->images = Tensor(DType::U8, {2, 1, 16, 17});
  for (int64_t k = 0; k < 2 * 272; ++k)
    large->images.u8()[k] = static_cast<uint8_t>((k * 7) % 256);
  std::vector<float> row(272);
  large->copyImage(1, row.data());
  for (int64_t k = 0; k < 272; ++k)
    EXPECT_EQ(row[static_cast<size_t>(k)],
              static_cast<float>(((272 + k) * 7) % 256) / 255.0f)
        << k;
}

TEST(DatasetTest, CheckLabelsAgainstTheNetwork) {
  auto d = syntheticDataset(8, {1, 1, 1}, 13);
  d->labels.i64()[7] = 12;
  EXPECT_TRUE(checkLabels(*d, 13, "labels.npy").ok());
  EXPECT_ERROR_CONTAINS(
      checkLabels(*d, 10, "labels.npy"),
      "labels.npy: label 12 at index 7 is out of range for a network "
      "with 10 outputs (labels must be 0..9)");
  d->labels.i64()[0] = -2;
  EXPECT_ERROR_CONTAINS(checkLabels(*d, 13, "labels.npy"),
                        "label -2 at index 0");
  EXPECT_ERROR_CONTAINS(checkLabels(*d, 0, "labels.npy"),
                        "the network has 0 outputs");
}

TEST(DatasetTest, CheckImageShapeAgainstTheNetwork) {
  EXPECT_TRUE(checkImageShape({1, 28, 28}, {1, 28, 28}, "x").ok());
  EXPECT_TRUE(checkImageShape({1, 28, 28}, {-1, 1, 28, 28}, "x")
                  .ok()); // as ModelLibrary reports
  EXPECT_ERROR_CONTAINS(
      checkImageShape({1, 28, 28}, {-1, 3, 32, 32}, "fm"),
      "fm: images are [1, 28, 28] (C, H, W) but the network takes "
      "[3, 32, 32] (channels: 1 instead of 3)");
  EXPECT_ERROR_CONTAINS(checkImageShape({3, 28, 28}, {3, 32, 32}, "c"),
                        "(height x width: 28x28 instead of 32x32)");
  EXPECT_ERROR_CONTAINS(
      checkImageShape({3, 32, 32}, {3072}, "c"),
      "c: images are [3, 32, 32] (C, H, W) but the network takes [3072]");
}

} // namespace
} // namespace cnnc::rt::data
