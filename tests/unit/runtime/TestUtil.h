// Helpers shared by the runtime tests.
#ifndef CNNC_RUNTIME_TEST_UTIL_H
#define CNNC_RUNTIME_TEST_UTIL_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace cnnc::rt::test {

// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "cnnc_rt_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string &name) const {
    return (dir_ / name).string();
  }

  std::filesystem::path dir_;
};

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

inline std::string readBytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Same dtype, shape and bytes (memcmp would get null pointers for empty
// tensors).
template <typename T> bool sameTensor(const T &a, const T &b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::equal(a.bytes(), a.bytes() + a.byteSize(), b.bytes());
}

inline bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

// ASSERT/EXPECT that an Expected or Status failed with a message containing
// `text`.
#define EXPECT_ERROR_CONTAINS(result, text)                                    \
  do {                                                                         \
    const auto &r_ = (result);                                                 \
    ASSERT_FALSE(r_.ok()) << "expected an error containing: " << (text);       \
    EXPECT_PRED2(::cnnc::rt::test::contains, r_.message(), std::string(text)); \
  } while (0)

} // namespace cnnc::rt::test

#endif // CNNC_RUNTIME_TEST_UTIL_H
