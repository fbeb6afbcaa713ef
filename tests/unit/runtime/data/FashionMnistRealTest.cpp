// The real Fashion-MNIST (Debian's dataset-fashion-mnist), when installed.
#include "DataTestUtil.h"

#include "cnnc/data/DataSpec.h"

#include <cstring>
#include <filesystem>
#include <utility>

namespace cnnc::rt::data {
namespace {

// The cache in a folder of the test's own: the first load of each split
// decompresses, the second maps the copy it left there.
class FashionMnistRealTest : public test::PrivateCacheTest {};

TEST_F(FashionMnistRealTest, LoadsBothSplits) {
  const std::string dir = CNNC_FASHION_MNIST_DIR;
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << dir
                 << " is not installed (apt install dataset-fashion-mnist)";
  Expected<DataSpec> spec = parseDataSpec("fashion-mnist:" + dir);
  ASSERT_TRUE(spec.ok()) << spec.message();

  Expected<Dataset> train = loadDataset(*spec, Split::Train);
  ASSERT_TRUE(train.ok()) << train.message();
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(train->imageShape(), (Shape{1, 28, 28}));
  EXPECT_EQ(train->numClasses, 10);
  EXPECT_EQ(train->classNames[9], "Ankle boot");
  // Reference values from numpy on the same files.
  const int64_t firstTrain[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  for (int64_t i = 0; i < 10; ++i)
    EXPECT_EQ(train->label(i), firstTrain[i]) << i;
  const int rowBytes[28] = {0,   0,   1,   4,   6,   7,   2,   0,   0,   0,
                            0,   0,   237, 226, 217, 223, 222, 219, 222, 221,
                            216, 223, 229, 215, 218, 255, 77,  0};
  std::vector<float> image(784);
  train->copyImage(0, image.data());
  for (int x = 0; x < 28; ++x) // image 0, row 14
    EXPECT_EQ(image[14 * 28 + x], static_cast<float>(rowBytes[x]) / 255.0f)
        << x;
  int64_t perClass[10] = {};
  for (int64_t i = 0; i < train->size(); ++i)
    ++perClass[train->label(i)];
  for (int64_t c : perClass)
    EXPECT_EQ(c, 6000);

  Expected<Dataset> test = loadDataset(*spec, Split::Test);
  ASSERT_TRUE(test.ok()) << test.message();
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->imageShape(), (Shape{1, 28, 28}));
  const int64_t firstTest[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int64_t i = 0; i < 10; ++i)
    EXPECT_EQ(test->label(i), firstTest[i]) << i;
  double sum = 0;
  test->copyImage(0, image.data());
  for (int64_t k = 0; k < 784; ++k)
    sum += image[k];
  EXPECT_NEAR(sum, 33456.0 / 255.0, 1e-3);

  // Loaded again: the same images, read in place from the decompressed copy
  // that the first load left in the cache.
  EXPECT_FALSE(test->images.isFileView());
  Expected<Dataset> again = loadDataset(*spec, Split::Test);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_TRUE(again->images.isFileView());
  ASSERT_EQ(again->images.byteSize(), test->images.byteSize());
  EXPECT_EQ(std::memcmp(std::as_const(again->images).bytes(),
                        std::as_const(test->images).bytes(),
                        test->images.byteSize()),
            0);
}

} // namespace
} // namespace cnnc::rt::data
