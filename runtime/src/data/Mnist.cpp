#include "cnnc/data/Mnist.h"

#include "Paths.h"
#include "cnnc/data/DecompressedFile.h"

#include <algorithm>

namespace cnnc::rt::data {

namespace {

const uint32_t kImagesMagic = 2051; // 0x00000803: unsigned bytes, 3 dimensions
const uint32_t kLabelsMagic = 2049; // 0x00000801: unsigned bytes, 1 dimension

uint32_t readBE32(const unsigned char *b) {
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 |
         uint32_t{b[3]};
}

// An IDX file of unsigned bytes: its dimensions and its bytes, the header
// first.
struct IdxFile {
  std::vector<uint32_t> dims;
  size_t headerSize = 0;
  DecompressedFile bytes;
  const unsigned char *elements() const { return bytes.data() + headerSize; }
};

// Reads an IDX file with magic `magic`, checking that it holds exactly the
// product of its dimensions in bytes. All of it is read (a gzip file's
// checksum verified) before the header is judged, so corrupt data is
// reported as such rather than as a bad header.
Expected<IdxFile> readIdx(const std::string &path, uint32_t magic) {
  const char *what = magic == kImagesMagic ? "image" : "label";
  Expected<DecompressedFile> bytes = DecompressedFile::read(path);
  if (!bytes)
    return bytes.error();
  const size_t rank = magic & 0xff;
  const size_t headerSize = 4 + 4 * rank;
  const size_t got = std::min(bytes->size(), headerSize);
  const unsigned char *header = bytes->data();
  if (got < 4)
    return Error(path + ": too short for an IDX file (" + std::to_string(got) +
                 " bytes)");
  uint32_t found = readBE32(header);
  if (found != magic) {
    std::string msg = path + ": not an IDX " + what + " file: magic number " +
                      std::to_string(found) + ", expected " +
                      std::to_string(magic);
    if (found == kImagesMagic || found == kLabelsMagic)
      msg += std::string(" (it is an IDX ") +
             (found == kImagesMagic ? "image" : "label") +
             " file: are the images and labels swapped?)";
    return Error(msg);
  }
  if (got < headerSize)
    return Error(path + ": truncated IDX header (" + std::to_string(got) +
                 " bytes, the header needs " + std::to_string(headerSize) +
                 ")");
  IdxFile file;
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    file.dims.push_back(readBE32(header + 4 + 4 * i));
    if (file.dims.back() == 0)
      return Error(path + ": IDX dimension " + std::to_string(i) + " is 0");
    // Each factor < 2^32 and three of them: check to stay within 64 bits.
    if (__builtin_mul_overflow(count, uint64_t{file.dims.back()}, &count))
      return Error(path + ": IDX dimensions are absurdly large");
  }
  const uint64_t have = bytes->size() - headerSize;
  std::string shape;
  for (size_t i = 0; i < rank; ++i)
    shape += (i ? "x" : "") + std::to_string(file.dims[i]);
  if (have < count)
    return Error(path + ": truncated: the header announces " + what +
                 "s of shape " + shape + " (" + std::to_string(count) +
                 " bytes) but " + std::to_string(have) + " bytes follow it");
  if (have > count)
    return Error(path + ": " + std::to_string(have - count) +
                 " unexpected bytes after the " + what + "s of shape " + shape);
  file.headerSize = headerSize;
  file.bytes = std::move(*bytes);
  return file;
}

} // namespace

std::vector<std::string> mnistClassNames(MnistVariant variant) {
  if (variant == MnistVariant::FashionMnist)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

Expected<Dataset> loadIdxPair(const std::string &imagesPath,
                              const std::string &labelsPath,
                              int64_t numClasses) {
  Expected<IdxFile> images = readIdx(imagesPath, kImagesMagic);
  if (!images)
    return images.error();
  Expected<IdxFile> labels = readIdx(labelsPath, kLabelsMagic);
  if (!labels)
    return labels.error();

  const std::vector<uint32_t> &imageDims = images->dims;
  int64_t n = imageDims[0], h = imageDims[1], w = imageDims[2];
  if (labels->dims[0] != imageDims[0])
    return Error(labelsPath + ": " + std::to_string(labels->dims[0]) +
                 " labels but " + imagesPath + " holds " + std::to_string(n) +
                 " images");

  Dataset d;
  d.imagesSource = imagesPath;
  d.labelsSource = labelsPath;
  d.numClasses = numClasses;
  d.labels = Tensor(DType::I64, {n});
  const unsigned char *label = labels->elements();
  for (int64_t i = 0; i < n; ++i) {
    if (label[i] >= numClasses)
      return Error(labelsPath + ": label " + std::to_string(label[i]) +
                   " at index " + std::to_string(i) +
                   " is out of range (the dataset has " +
                   std::to_string(numClasses) + " classes)");
    d.labels.i64()[i] = label[i];
  }
  Expected<Tensor> pixels = images->bytes.takeTensor(
      DType::U8, {n, 1, h, w}, images->headerSize, imagesPath);
  if (!pixels)
    return pixels.error();
  d.images = std::move(*pixels);
  return d;
}

Expected<Dataset> loadMnist(const std::string &dir, Split split,
                            MnistVariant variant) {
  const char *kind =
      variant == MnistVariant::FashionMnist ? "fashion-mnist" : "mnist";
  std::string expected =
      std::string(" (") + kind +
      ":DIR expects train-images-idx3-ubyte, train-labels-idx1-ubyte, "
      "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte in DIR, each "
      "optionally "
      "gzipped with a .gz suffix)";
  if (!isDirectory(dir))
    return Error(notADirectory(dir) + expected);

  std::string prefix = split == Split::Train ? "train" : "t10k";
  std::string paths[2];
  const char *names[2] = {"-images-idx3-ubyte", "-labels-idx1-ubyte"};
  for (int i = 0; i < 2; ++i) {
    std::string base = dir + "/" + prefix + names[i];
    if (pathExists(base))
      paths[i] = base;
    else if (pathExists(base + ".gz"))
      paths[i] = base + ".gz";
    else {
      std::string msg =
          dir + ": missing " + prefix + names[i] + "[.gz]" + expected;
      // torchvision downloads to ROOT/FashionMNIST/raw or ROOT/MNIST/raw.
      for (const char *sub : {"/FashionMNIST/raw", "/MNIST/raw", "/raw"})
        if (pathExists(dir + sub + "/" + prefix + names[i]) ||
            pathExists(dir + sub + "/" + prefix + names[i] + ".gz")) {
          msg += "; did you mean " + std::string(kind) + ":" + dir + sub + "?";
          break;
        }
      return Error(msg);
    }
  }
  Expected<Dataset> d = loadIdxPair(paths[0], paths[1], 10);
  if (d)
    d->classNames = mnistClassNames(variant);
  return d;
}

} // namespace cnnc::rt::data
