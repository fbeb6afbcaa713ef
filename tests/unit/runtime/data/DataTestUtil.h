// Helpers for the data-loading tests: writing the file formats the loaders
// read.
#ifndef CNNC_RUNTIME_DATA_TEST_UTIL_H
#define CNNC_RUNTIME_DATA_TEST_UTIL_H

#include "TestUtil.h"

#include "cnnc/data/Dataset.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zlib.h>

namespace cnnc::rt::data::test {

using ::cnnc::rt::test::contains;
using ::cnnc::rt::test::readBytes;
using ::cnnc::rt::test::TempDirTest;
using ::cnnc::rt::test::writeBytes;

inline void appendBE32(std::string &s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    s += static_cast<char>((v >> shift) & 0xff);
}

// An IDX file: magic, dimensions, then the bytes as given.
inline std::string idx(uint32_t magic, const std::vector<uint32_t> &dims,
                       const std::string &data) {
  std::string s;
  appendBE32(s, magic);
  for (uint32_t d : dims)
    appendBE32(s, d);
  return s + data;
}

// Images whose pixel k (over the whole file) is (7 * k + 3) mod 256.
inline std::string idxImages(uint32_t n, uint32_t h, uint32_t w) {
  std::string data(size_t{n} * h * w, '\0');
  for (size_t k = 0; k < data.size(); ++k)
    data[k] = static_cast<char>((7 * k + 3) % 256);
  return idx(2051, {n, h, w}, data);
}

inline std::string idxLabels(const std::vector<uint8_t> &labels) {
  return idx(2049, {static_cast<uint32_t>(labels.size())},
             std::string(labels.begin(), labels.end()));
}

// A temporary folder whose "cache" subfolder is the user's cache
// (XDG_CACHE_HOME) during the test: what the loaders cache stays there.
class PrivateCacheTest : public TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (const char *old = std::getenv("XDG_CACHE_HOME"))
      saved_ = old;
    setenv("XDG_CACHE_HOME", path("cache").c_str(), 1);
  }
  void TearDown() override {
    if (saved_)
      setenv("XDG_CACHE_HOME", saved_->c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    TempDirTest::TearDown();
  }
  std::optional<std::string> saved_;
};

// Writes `bytes` gzip-compressed with zlib's gz* API, as gzip(1) would.
inline void writeGzip(const std::string &path, const std::string &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// A small in-memory dataset: image i ([C, H, W]) holds 1000 * i + element
// index; label i is i % classes.
inline std::shared_ptr<Dataset> syntheticDataset(int64_t n, Shape imageShape,
                                                 int64_t classes) {
  auto d = std::make_shared<Dataset>();
  d->images =
      Tensor(DType::F32, {n, imageShape[0], imageShape[1], imageShape[2]});
  d->labels = Tensor(DType::I64, {n});
  int64_t per = imageShape[0] * imageShape[1] * imageShape[2];
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = 0; e < per; ++e)
      d->images.f32()[i * per + e] = static_cast<float>(1000 * i + e);
    d->labels.i64()[i] = i % classes;
  }
  d->numClasses = classes;
  d->imagesSource = "synthetic images";
  d->labelsSource = "synthetic labels";
  return d;
}

} // namespace cnnc::rt::data::test

#endif // CNNC_RUNTIME_DATA_TEST_UTIL_H
