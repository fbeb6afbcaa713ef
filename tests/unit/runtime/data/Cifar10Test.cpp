// CIFAR-10 binary batches written by the tests.
#include "DataTestUtil.h"

#include "cnnc/data/Cifar10.h"

#include <filesystem>

namespace cnnc::rt::data {
namespace {

using namespace test;

// The byte of pixel (c, y, x) of global record n: distinct enough that any
// mix-up of planes, rows, columns or records changes some value.
uint8_t pixelByte(int64_t n, int64_t c, int64_t y, int64_t x) {
  return static_cast<uint8_t>((n * 31 + c * 101 + y * 7 + x * 3) % 256);
}

// Records n0 .. n0 + labels.size() - 1 in the binary format.
std::string cifarBatch(int64_t n0, const std::vector<uint8_t> &labels) {
  std::string s;
  for (size_t r = 0; r < labels.size(); ++r) {
    s += static_cast<char>(labels[r]);
    for (int c = 0; c < 3; ++c) // R plane, G plane, B plane, each row-major
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          s += static_cast<char>(
              pixelByte(n0 + static_cast<int64_t>(r), c, y, x));
  }
  return s;
}

class Cifar10Test : public TempDirTest {
protected:
  // Five training batches of 2, 1, 3, 1 and 2 records (labels = n % 10 with
  // n the global index), and a test batch of 2 records.
  void writeAll() {
    const int sizes[5] = {2, 1, 3, 1, 2};
    int64_t n = 0;
    for (int b = 0; b < 5; ++b) {
      std::vector<uint8_t> labels;
      for (int r = 0; r < sizes[b]; ++r)
        labels.push_back(static_cast<uint8_t>((n + r) % 10));
      writeBytes(path("data_batch_" + std::to_string(b + 1) + ".bin"),
                 cifarBatch(n, labels));
      n += sizes[b];
    }
    writeBytes(path("test_batch.bin"), cifarBatch(100, {7, 3}));
  }
  std::string dir() const { return dir_.string(); }
};

TEST_F(Cifar10Test, LoadsTrainBatchesInOrderWithExactPixelLayout) {
  writeAll();
  Expected<Dataset> d = loadCifar10(dir(), Split::Train);
  ASSERT_TRUE(d.ok()) << d.message();
  ASSERT_EQ(d->images.dtype(), DType::U8);
  ASSERT_EQ(d->images.shape(), (Shape{9, 3, 32, 32}));
  std::vector<float> image(3 * 32 * 32);
  for (int64_t n = 0; n < 9; ++n) {
    EXPECT_EQ(d->label(n), n % 10);
    d->copyImage(n, image.data());
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x)
          ASSERT_EQ(image[(c * 32 + y) * 32 + x],
                    static_cast<float>(pixelByte(n, c, y, x)) / 255.0f)
              << n << " " << c << " " << y << " " << x;
  }
  EXPECT_EQ(d->numClasses, 10);
  EXPECT_EQ(d->classNames, cifar10ClassNames());
  EXPECT_TRUE(
      contains(d->labelsSource, "data_batch_1.bin .. data_batch_5.bin"));
  EXPECT_TRUE(validateDataset(*d).ok());
}

TEST_F(Cifar10Test, LoadsTestBatch) {
  writeAll();
  Expected<Dataset> d = loadCifar10(dir(), Split::Test);
  ASSERT_TRUE(d.ok()) << d.message();
  ASSERT_EQ(d->size(), 2);
  EXPECT_EQ(d->label(0), 7);
  EXPECT_EQ(d->label(1), 3);
  // Record 1, green plane, row 5, column 9.
  EXPECT_EQ(d->images.u8()[((1 * 3 + 1) * 32 + 5) * 32 + 9],
            pixelByte(101, 1, 5, 9));
}

TEST_F(Cifar10Test, ClassNamesFromMetaFile) {
  writeAll();
  writeBytes(
      path("batches.meta.txt"),
      "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck  \n\n\n");
  Expected<Dataset> d = loadCifar10(dir(), Split::Test);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->classNames[0], "plane");
  EXPECT_EQ(d->classNames[1], "car");
  EXPECT_EQ(d->classNames[9], "truck");

  writeBytes(path("batches.meta.txt"), "a\nb\nc\n");
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test),
                        path("batches.meta.txt") +
                            ": expected 10 class names, one per "
                            "line, found 3");
}

TEST_F(Cifar10Test, SizeNotAMultipleOfTheRecord) {
  writeAll();
  std::string batch = cifarBatch(0, {1, 2});
  writeBytes(path("data_batch_3.bin"), batch.substr(0, batch.size() - 100));
  Expected<Dataset> d = loadCifar10(dir(), Split::Train);
  EXPECT_ERROR_CONTAINS(d, path("data_batch_3.bin") +
                               ": size 6046 is not a positive "
                               "multiple of 3073");
  EXPECT_ERROR_CONTAINS(d, "truncated");
  writeBytes(path("test_batch.bin"), "");
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test),
                        "test_batch.bin: size 0 is not");
  // CIFAR-100's records carry two label bytes.
  writeBytes(path("test_batch.bin"), std::string(3 * 3074, '\1'));
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test), "CIFAR-100");
}

TEST_F(Cifar10Test, LabelOutOfRange) {
  writeAll();
  writeBytes(path("data_batch_2.bin"), cifarBatch(0, {1, 4, 12}));
  EXPECT_ERROR_CONTAINS(
      loadCifar10(dir(), Split::Train),
      path("data_batch_2.bin") +
          ": label 12 in record 2 is out of range (CIFAR-10 has 10 "
          "classes)");
}

TEST_F(Cifar10Test, MissingFilesListWhatIsExpected) {
  writeAll();
  std::filesystem::remove(path("data_batch_2.bin"));
  std::filesystem::remove(path("data_batch_5.bin"));
  Expected<Dataset> d = loadCifar10(dir(), Split::Train);
  EXPECT_ERROR_CONTAINS(d,
                        dir() + ": missing data_batch_2.bin, data_batch_5.bin");
  EXPECT_ERROR_CONTAINS(d, "data_batch_1.bin .. data_batch_5.bin for training, "
                           "test_batch.bin for testing");
  // The test split does not need the training batches.
  EXPECT_TRUE(loadCifar10(dir(), Split::Test).ok());
  std::filesystem::remove(path("test_batch.bin"));
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test),
                        ": missing test_batch.bin");
  EXPECT_ERROR_CONTAINS(loadCifar10(path("absent"), Split::Test),
                        path("absent") + ": no such directory");
}

TEST_F(Cifar10Test, HintsForTheArchiveFolderAndThePythonVersion) {
  std::filesystem::create_directory(dir_ / "cifar-10-batches-bin");
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test),
                        "did you mean cifar10:" + dir() +
                            "/cifar-10-batches-bin?");
  std::filesystem::remove(dir_ / "cifar-10-batches-bin");
  writeBytes(path("test_batch"), "pickle");
  EXPECT_ERROR_CONTAINS(loadCifar10(dir(), Split::Test),
                        "Python (pickle) version");
}

} // namespace
} // namespace cnnc::rt::data
