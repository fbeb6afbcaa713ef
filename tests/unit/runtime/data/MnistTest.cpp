// IDX (Fashion-MNIST / MNIST) loading from files the tests write.
#include "DataTestUtil.h"

#include "cnnc/data/Mnist.h"

#include <filesystem>

namespace cnnc::rt::data {
namespace {

using namespace test;

class MnistTest : public TempDirTest {
protected:
  // Writes the train or t10k pair into the test directory.
  void writePair(const std::string &prefix, const std::string &images,
                 const std::string &labels, bool gz) {
    std::string img = path(prefix + "-images-idx3-ubyte"),
                lab = path(prefix + "-labels-idx1-ubyte");
    if (gz) {
      writeGzip(img + ".gz", images);
      writeGzip(lab + ".gz", labels);
    } else {
      writeBytes(img, images);
      writeBytes(lab, labels);
    }
  }
  std::string dir() const { return dir_.string(); }
};

// The file's bytes, in file order, as [N, 1, H, W] uint8; each image reads
// as byte / 255.
void expectPixels(const Dataset &d, uint32_t n, uint32_t h, uint32_t w) {
  ASSERT_EQ(d.images.dtype(), DType::U8);
  ASSERT_EQ(d.images.shape(), (Shape{n, 1, h, w}));
  std::vector<float> image(h * w);
  for (int64_t i = 0; i < n; ++i) {
    d.copyImage(i, image.data());
    for (int64_t e = 0; e < h * w; ++e) {
      const int64_t k = i * h * w + e;
      ASSERT_EQ(d.images.u8()[k], (7 * k + 3) % 256) << k;
      ASSERT_EQ(image[e], static_cast<float>((7 * k + 3) % 256) / 255.0f) << k;
    }
  }
}

TEST_F(MnistTest, LoadsPlainIdx) {
  writePair("train", idxImages(3, 2, 3), idxLabels({9, 0, 4}), /*gz=*/false);
  Expected<Dataset> d =
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist);
  ASSERT_TRUE(d.ok()) << d.message();
  expectPixels(*d, 3, 2, 3);
  EXPECT_EQ(d->label(0), 9);
  EXPECT_EQ(d->label(1), 0);
  EXPECT_EQ(d->label(2), 4);
  EXPECT_EQ(d->numClasses, 10);
  ASSERT_EQ(d->classNames.size(), 10u);
  EXPECT_EQ(d->classNames[0], "T-shirt/top");
  EXPECT_EQ(d->classNames[9], "Ankle boot");
  EXPECT_EQ(d->imagesSource, path("train-images-idx3-ubyte"));
  EXPECT_EQ(d->labelsSource, path("train-labels-idx1-ubyte"));
  EXPECT_TRUE(validateDataset(*d).ok());
}

TEST_F(MnistTest, LoadsGzippedTestSplit) {
  writePair("train", idxImages(1, 1, 1), idxLabels({1}), false);
  writePair("t10k", idxImages(4, 5, 2), idxLabels({1, 2, 3, 8}), /*gz=*/true);
  Expected<Dataset> d = loadMnist(dir(), Split::Test, MnistVariant::Mnist);
  ASSERT_TRUE(d.ok()) << d.message();
  expectPixels(*d, 4, 5, 2);
  EXPECT_EQ(d->labels.i64()[3], 8);
  EXPECT_EQ(d->classNames[3], "3");
  EXPECT_EQ(d->imagesSource, path("t10k-images-idx3-ubyte.gz"));
}

TEST_F(MnistTest, GzipIsRecognisedByContentAndConcatenatedMembersWork) {
  // A plain file named .gz, and labels made of two gzip members.
  std::string labels = idxLabels({5, 6, 7});
  writeBytes(path("train-images-idx3-ubyte.gz"), idxImages(3, 2, 2));
  writeGzip(path("a.gz"), labels.substr(0, 9));
  writeGzip(path("b.gz"), labels.substr(9));
  writeBytes(path("train-labels-idx1-ubyte.gz"),
             readBytes(path("a.gz")) + readBytes(path("b.gz")));
  Expected<Dataset> d =
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist);
  ASSERT_TRUE(d.ok()) << d.message();
  expectPixels(*d, 3, 2, 2);
  EXPECT_EQ(d->labels.i64()[0], 5);
  EXPECT_EQ(d->labels.i64()[2], 7);
}

// The last member's trailer gives the size of that member only: the reader's
// first guess is far too small and its buffer grows, bytes intact.
TEST_F(MnistTest, LargeImagesInTwoGzipMembers) {
  const std::string images = idxImages(150, 30, 30); // 135,016 bytes
  writeGzip(path("a.gz"), images.substr(0, 134000));
  writeGzip(path("b.gz"), images.substr(134000));
  writeBytes(path("train-images-idx3-ubyte.gz"),
             readBytes(path("a.gz")) + readBytes(path("b.gz")));
  writeGzip(path("train-labels-idx1-ubyte.gz"),
            idxLabels(std::vector<uint8_t>(150, 4)));
  Expected<Dataset> d = loadMnist(dir(), Split::Train, MnistVariant::Mnist);
  ASSERT_TRUE(d.ok()) << d.message();
  expectPixels(*d, 150, 30, 30);
}

TEST_F(MnistTest, BadMagicNamesTheFile) {
  writePair("train", idxImages(2, 2, 2), idxLabels({1, 2}), false);
  writeBytes(path("train-images-idx3-ubyte"),
             idx(0x12345678, {2, 2, 2}, std::string(8, 'x')));
  Expected<Dataset> d =
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist);
  EXPECT_ERROR_CONTAINS(d,
                        path("train-images-idx3-ubyte") +
                            ": not an IDX image file: magic number 305419896, "
                            "expected 2051");
}

TEST_F(MnistTest, SwappedFilesAreRecognised) {
  writeBytes(path("train-images-idx3-ubyte"), idxLabels({1, 2}));
  writeBytes(path("train-labels-idx1-ubyte"), idxImages(2, 2, 2));
  Expected<Dataset> d =
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist);
  EXPECT_ERROR_CONTAINS(d, "magic number 2049, expected 2051");
  EXPECT_ERROR_CONTAINS(d, "swapped");
}

TEST_F(MnistTest, TruncatedAndOverlongFiles) {
  std::string images = idxImages(3, 4, 4);
  writePair("train", images.substr(0, images.size() - 1), idxLabels({1, 2, 3}),
            false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-images-idx3-ubyte: truncated: the header announces images of "
      "shape 3x4x4 (48 bytes) but 47 bytes follow it");
  writePair("train", images, idxLabels({1, 2, 3}) + "zz", false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-labels-idx1-ubyte: 2 unexpected bytes after the labels of shape "
      "3");
  // Cut inside the header.
  writePair("train", images.substr(0, 10), idxLabels({1, 2, 3}), false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "truncated IDX header");
  writePair("train", "", idxLabels({1, 2, 3}), false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "too short for an IDX file");
}

TEST_F(MnistTest, ZeroDimension) {
  writePair("train", idx(2051, {2, 0, 3}, ""), idxLabels({1, 2}), false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "IDX dimension 1 is 0");
}

TEST_F(MnistTest, TruncatedAndCorruptGzip) {
  std::string images = idxImages(20, 8, 8);
  writePair("train", images, idxLabels(std::vector<uint8_t>(20, 1)), true);
  std::string gz = readBytes(path("train-images-idx3-ubyte.gz"));
  writeBytes(path("train-images-idx3-ubyte.gz"), gz.substr(0, gz.size() / 2));
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-images-idx3-ubyte.gz: truncated gzip data");
  // Flip bits of the deflate stream and of the CRC: the inflater must
  // reject it.
  std::string corrupt = gz;
  for (size_t i = 12; i < corrupt.size() - 4; i += 5)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  writeBytes(path("train-images-idx3-ubyte.gz"), corrupt);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-images-idx3-ubyte.gz: corrupt gzip data");
  // Garbage after a complete member.
  writeBytes(path("train-images-idx3-ubyte.gz"), gz + "junk");
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "unexpected data after the end of the gzip stream");
  // Intact data with a wrong checksum: only the CRC32 check catches it.
  std::string badCrc = gz;
  badCrc[badCrc.size() - 8] = static_cast<char>(badCrc[badCrc.size() - 8] ^ 1);
  writeBytes(path("train-images-idx3-ubyte.gz"), badCrc);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-images-idx3-ubyte.gz: corrupt gzip data (a wrong checksum)");
  // The file cut inside its 8-byte trailer (CRC32, size).
  writeBytes(path("train-images-idx3-ubyte.gz"), gz.substr(0, gz.size() - 3));
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-images-idx3-ubyte.gz: truncated gzip data");
}

TEST_F(MnistTest, CountMismatch) {
  writePair("train", idxImages(3, 2, 2), idxLabels({1, 2}), false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-labels-idx1-ubyte: 2 labels but " +
          path("train-images-idx3-ubyte") + " holds 3 images");
}

TEST_F(MnistTest, LabelOutOfRange) {
  writePair("train", idxImages(3, 2, 2), idxLabels({1, 10, 2}), false);
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "train-labels-idx1-ubyte: label 10 at index 1 is out of range "
      "(the dataset has 10 classes)");
}

TEST_F(MnistTest, MissingFilesListWhatIsExpected) {
  Expected<Dataset> d =
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist);
  EXPECT_ERROR_CONTAINS(d, dir() + ": missing train-images-idx3-ubyte[.gz]");
  EXPECT_ERROR_CONTAINS(d, "t10k-labels-idx1-ubyte");
  // Only the test split's labels are missing.
  writePair("t10k", idxImages(1, 1, 1), idxLabels({1}), false);
  std::filesystem::remove(path("t10k-labels-idx1-ubyte"));
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Test, MnistVariant::Mnist),
      "missing t10k-labels-idx1-ubyte[.gz] (mnist:DIR expects");
  EXPECT_ERROR_CONTAINS(
      loadMnist(path("nope"), Split::Train, MnistVariant::FashionMnist),
      path("nope") + ": no such directory");
  EXPECT_ERROR_CONTAINS(loadMnist(path("t10k-images-idx3-ubyte"), Split::Train,
                                  MnistVariant::Mnist),
                        ": not a directory");
}

TEST_F(MnistTest, SuggestsTorchvisionLayout) {
  std::filesystem::create_directories(dir_ / "FashionMNIST" / "raw");
  writeGzip(path("FashionMNIST/raw/train-images-idx3-ubyte.gz"),
            idxImages(1, 1, 1));
  EXPECT_ERROR_CONTAINS(
      loadMnist(dir(), Split::Train, MnistVariant::FashionMnist),
      "did you mean fashion-mnist:" + dir() + "/FashionMNIST/raw?");
}

TEST_F(MnistTest, LoadIdxPairWithOtherClassCount) {
  writePair("train", idxImages(2, 3, 3), idxLabels({3, 4}), false);
  EXPECT_TRUE(loadIdxPair(path("train-images-idx3-ubyte"),
                          path("train-labels-idx1-ubyte"), 5)
                  .ok());
  EXPECT_ERROR_CONTAINS(
      loadIdxPair(path("train-images-idx3-ubyte"),
                  path("train-labels-idx1-ubyte"), 4),
      "label 4 at index 1 is out of range (the dataset has 4 classes)");
}

} // namespace
} // namespace cnnc::rt::data
