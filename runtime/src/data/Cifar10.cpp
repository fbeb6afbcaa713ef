#include "cnnc/data/Cifar10.h"

#include "Paths.h"

#include "cnnc/FileIO.h"

#include <cstring>

namespace cnnc::rt::data {

namespace {

const int64_t kPixels = 3 * 32 * 32;
const int64_t kRecord = 1 + kPixels;
const int64_t kClasses = 10;

const char kExpected[] =
    " (cifar10:DIR expects the binary version of CIFAR-10, "
    "cifar-10-binary.tar.gz: "
    "data_batch_1.bin .. data_batch_5.bin for training, test_batch.bin for "
    "testing, optionally batches.meta.txt)";

// Ten class names, one per non-empty line (the file ends with blank lines).
Expected<std::vector<std::string>> readMeta(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos)
      end = text->size();
    std::string line = text->substr(pos, end - pos);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) {
      size_t last = line.find_last_not_of(" \t\r");
      names.push_back(line.substr(first, last - first + 1));
    }
    pos = end + 1;
  }
  if (static_cast<int64_t>(names.size()) != kClasses)
    return Error(path + ": expected 10 class names, one per line, found " +
                 std::to_string(names.size()));
  return names;
}

} // namespace

std::vector<std::string> cifar10ClassNames() {
  return {"airplane", "automobile", "bird",  "cat",  "deer",
          "dog",      "frog",       "horse", "ship", "truck"};
}

Expected<Dataset> loadCifar10(const std::string &dir, Split split) {
  if (!isDirectory(dir))
    return Error(notADirectory(dir) + kExpected);
  std::vector<std::string> names;
  if (split == Split::Train)
    for (int i = 1; i <= 5; ++i)
      names.push_back("data_batch_" + std::to_string(i) + ".bin");
  else
    names.push_back("test_batch.bin");

  std::string missing;
  for (const std::string &name : names)
    if (!pathExists(dir + "/" + name))
      missing += (missing.empty() ? "" : ", ") + name;
  if (!missing.empty()) {
    std::string msg = dir + ": missing " + missing + kExpected;
    if (pathExists(dir + "/cifar-10-batches-bin"))
      msg += "; did you mean cifar10:" + dir + "/cifar-10-batches-bin?";
    else if (pathExists(dir + "/data_batch_1") ||
             pathExists(dir + "/test_batch"))
      msg +=
          "; DIR holds the Python (pickle) version, which cnnc does not read";
    return Error(msg);
  }

  // Read every file first: the image tensor is allocated once, at its size.
  std::vector<Bytes> contents;
  int64_t n = 0;
  for (const std::string &name : names) {
    std::string path = dir + "/" + name;
    Expected<Bytes> bytes = readFileBytes(path);
    if (!bytes)
      return bytes.error();
    int64_t size = static_cast<int64_t>(bytes->size());
    if (size == 0 || size % kRecord != 0) {
      std::string msg =
          path + ": size " + std::to_string(size) +
          " is not a positive multiple of " + std::to_string(kRecord) +
          " (1 label byte + 3072 pixel bytes per record): truncated, or "
          "not the binary version of CIFAR-10";
      if (size > 0 && size % (kRecord + 1) == 0)
        msg +=
            " (records of 3074 bytes: CIFAR-100, which cifar10: does not read)";
      return Error(msg);
    }
    n += size / kRecord;
    contents.push_back(std::move(*bytes));
  }

  Dataset d;
  d.imagesSource = d.labelsSource =
      dir + " (" + names.front() +
      (names.size() > 1 ? " .. " + names.back() : "") + ")";
  d.numClasses = kClasses;
  Expected<Tensor> images = Tensor::create(DType::U8, {n, 3, 32, 32}, dir);
  if (!images)
    return images.error();
  d.images = std::move(*images);
  d.labels = Tensor(DType::I64, {n});

  int64_t index = 0;
  for (size_t f = 0; f < contents.size(); ++f) {
    const unsigned char *p = contents[f].data();
    int64_t records = static_cast<int64_t>(contents[f].size()) / kRecord;
    for (int64_t r = 0; r < records; ++r, ++index, p += kRecord) {
      if (p[0] >= kClasses)
        return Error(dir + "/" + names[f] + ": label " + std::to_string(p[0]) +
                     " in record " + std::to_string(r) +
                     " is out of range (CIFAR-10 has 10 classes)");
      d.labels.i64()[index] = p[0];
      // The record's planes are already C, H, W order.
      std::memcpy(d.images.u8() + index * kPixels, p + 1, kPixels);
    }
    contents[f] = Bytes(); // free as we go
  }

  std::string metaPath = dir + "/batches.meta.txt";
  if (pathExists(metaPath)) {
    Expected<std::vector<std::string>> meta = readMeta(metaPath);
    if (!meta)
      return meta.error();
    d.classNames = std::move(*meta);
  } else {
    d.classNames = cifar10ClassNames();
  }
  return d;
}

} // namespace cnnc::rt::data
