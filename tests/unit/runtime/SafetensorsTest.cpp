// safetensors reading, writing and validation.
#include "TestUtil.h"

#include "cnnc/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

namespace cnnc::rt {
namespace {

using json = nlohmann::json;
using test::readBytes;
using test::writeBytes;

// A safetensors file from a header text and raw data.
std::string makeFile(const std::string &header, const std::string &data,
                     int64_t lengthOverride = -1) {
  uint64_t len = lengthOverride >= 0 ? static_cast<uint64_t>(lengthOverride)
                                     : header.size();
  std::string s;
  for (int i = 0; i < 8; ++i)
    s += static_cast<char>((len >> (8 * i)) & 0xff);
  return s + header + data;
}

class SafetensorsTest : public test::TempDirTest {
protected:
  // Writes `header` + `dataBytes` zero bytes to w.safetensors and reads it.
  Expected<SafetensorsFile> parse(const std::string &header, size_t dataBytes) {
    writeBytes(path("w.safetensors"),
               makeFile(header, std::string(dataBytes, '\0')));
    return readSafetensors(path("w.safetensors"));
  }

  TensorMap sample() {
    TensorMap m;
    Tensor w(DType::F32, {2, 3});
    for (int i = 0; i < 6; ++i)
      w.f32()[i] = static_cast<float>(i) * 0.25f;
    Tensor b(DType::F32,
             {3}); // 12 bytes: would misalign an I64 placed after it
    b.f32()[2] = -7.0f;
    Tensor steps(DType::I64, {});
    steps.i64()[0] = 123456789012345;
    m.emplace("fc.weight", std::move(w));
    m.emplace("fc.bias", std::move(b));
    m.emplace("bn.num_batches_tracked", std::move(steps));
    return m;
  }
};

TEST_F(SafetensorsTest, RoundTripWithMetadata) {
  TensorMap m = sample();
  ASSERT_TRUE(
      writeSafetensors(path("w.safetensors"), m, {{"format", "pt"}}).ok());
  Expected<SafetensorsFile> back = readSafetensors(path("w.safetensors"));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->metadata,
            (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(back->tensors.size(), m.size());
  for (const auto &[name, t] : m) {
    const Tensor &u = back->tensors.at(name);
    EXPECT_TRUE(test::sameTensor(u, t)) << name;
  }
}

TEST_F(SafetensorsTest, RoundTripWithEmptyTensors) {
  TensorMap m;
  m.emplace("a.empty", Tensor(DType::F32, {0, 3}));
  m.emplace("b.empty", Tensor(DType::I64, {0}));
  Tensor c(DType::F32, {1});
  c.f32()[0] = 9.0f;
  m.emplace("c", std::move(c));
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), m).ok());
  Expected<SafetensorsFile> back = readSafetensors(path("w.safetensors"));
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->tensors.size(), 3u);
  for (const auto &[name, t] : m)
    EXPECT_TRUE(test::sameTensor(back->tensors.at(name), t)) << name;
  EXPECT_TRUE(back->metadata.empty());
}

TEST_F(SafetensorsTest, LayoutMatchesTheSafetensorsPackage) {
  ASSERT_TRUE(
      writeSafetensors(path("w.safetensors"), sample(), {{"format", "pt"}})
          .ok());
  std::string bytes = readBytes(path("w.safetensors"));
  uint64_t len = 0;
  std::memcpy(&len, bytes.data(), 8);
  EXPECT_EQ(len % 8, 0u) << "the data must start 8-byte aligned";
  std::string text = bytes.substr(8, len);
  EXPECT_EQ(text.back() == ' ' || text.back() == '}', true);
  json header = json::parse(text);
  // Data sorted by (alignment descending, name): the I64 first, then F32 by
  // name.
  EXPECT_EQ(header["bn.num_batches_tracked"]["data_offsets"],
            json::array({0, 8}));
  EXPECT_EQ(header["fc.bias"]["data_offsets"], json::array({8, 20}));
  EXPECT_EQ(header["fc.weight"]["data_offsets"], json::array({20, 44}));
  EXPECT_EQ(header["fc.weight"]["dtype"], "F32");
  EXPECT_EQ(header["fc.weight"]["shape"], json::array({2, 3}));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(bytes.size(), 8 + len + 44);
  // Keys appear sorted in the text.
  EXPECT_LT(text.find("\"bn.num_batches_tracked\""), text.find("\"fc.bias\""));
  EXPECT_LT(text.find("\"fc.bias\""), text.find("\"fc.weight\""));
}

TEST_F(SafetensorsTest, ReadsAFileLaidOutByThePythonPackage) {
  // Field order and padding as safetensors.torch.save_file writes them.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data(8, '\0');
  float values[2] = {1.5f, -2.0f};
  std::memcpy(data.data(), values, 8);
  writeBytes(path("py.safetensors"), makeFile(header, data));
  Expected<SafetensorsFile> f = readSafetensors(path("py.safetensors"));
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->tensors.at("a").f32()[1], -2.0f);
  EXPECT_EQ(f->metadata.at("format"), "pt");
}

TEST_F(SafetensorsTest, AtomicWriteReplacesAndLeavesNoTemporaryFiles) {
  writeBytes(path("w.safetensors"), "old contents");
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), sample()).ok());
  EXPECT_TRUE(readSafetensors(path("w.safetensors")).ok());
  int files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_ERROR_CONTAINS(
      writeSafetensors(path("missing/w.safetensors"), sample()),
      "w.safetensors: cannot create");
}

TEST_F(SafetensorsTest, WriteRejectsNamesThatAreNotUtf8) {
  TensorMap m;
  m.emplace("bad\xff", Tensor(DType::F32, {1}));
  EXPECT_ERROR_CONTAINS(writeSafetensors(path("w.safetensors"), m),
                        "w.safetensors: cannot write the header");
  EXPECT_FALSE(std::filesystem::exists(path("w.safetensors")));
}

TEST_F(SafetensorsTest, RejectsTooShortAndTruncatedFiles) {
  writeBytes(path("w.safetensors"), "abc");
  EXPECT_ERROR_CONTAINS(
      readSafetensors(path("w.safetensors")),
      "w.safetensors: too short to be a safetensors file (3 bytes)");
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  writeBytes(path("w.safetensors"), makeFile(header, "").substr(0, 30));
  EXPECT_ERROR_CONTAINS(readSafetensors(path("w.safetensors")),
                        "exceeds the file size");
  // Header complete, data cut short.
  EXPECT_ERROR_CONTAINS(
      parse(header, 4),
      "tensor 'a' has data_offsets [0, 8] outside the 4 data bytes");
}

TEST_F(SafetensorsTest, RejectsAbsurdHeaderLength) {
  writeBytes(path("w.safetensors"), makeFile("{}", "", int64_t{1} << 40));
  EXPECT_ERROR_CONTAINS(
      readSafetensors(path("w.safetensors")),
      "w.safetensors: safetensors header length 1099511627776 is absurd");
}

TEST_F(SafetensorsTest, RejectsGarbage) {
  EXPECT_ERROR_CONTAINS(
      parse("{\"a\": [1, 2", 0),
      "w.safetensors: the safetensors header is not valid JSON");
  EXPECT_ERROR_CONTAINS(parse("\x01\x02\x03garbage", 0), "is not valid JSON");
  EXPECT_ERROR_CONTAINS(parse("[1, 2, 3]", 0),
                        "the safetensors header is not a JSON object");
  EXPECT_ERROR_CONTAINS(parse("{\"bad\xff\": {\"dtype\": \"F32\", \"shape\": "
                              "[], \"data_offsets\": [0, 4]}}",
                              4),
                        "is not valid JSON");
  EXPECT_ERROR_CONTAINS(parse(R"({"a": 5})", 0),
                        "tensor 'a' is not described by a JSON object");
}

TEST_F(SafetensorsTest, RejectsUnsupportedOrMissingDtype) {
  EXPECT_ERROR_CONTAINS(
      parse(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4),
      "w.safetensors: tensor 'h' has dtype F16; cnnc reads F32 and I64");
  EXPECT_ERROR_CONTAINS(parse(R"({"h":{"shape":[2],"data_offsets":[0,8]}})", 8),
                        "tensor 'h' has no string 'dtype'");
}

TEST_F(SafetensorsTest, RejectsBadShapes) {
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,0]}})", 0),
      "tensor 'w' has a shape entry that is not a non-negative integer: -2");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":"2x2","data_offsets":[0,16]}})", 16),
      "tensor 'w' has no 'shape' list");
}

TEST_F(SafetensorsTest, RejectsOffsetsOutOfRangeOrInconsistent) {
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
      "tensor 'w' has data_offsets [8, 0] outside");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99]}})", 8),
      "tensor 'w' has data_offsets [0, 99] outside the 8 data bytes");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
      "tensor 'w' of dtype F32 and shape [3] needs 12 bytes but its "
      "data_offsets span 8");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
      "tensor 'w' has no 'data_offsets' [begin, end]");
}

TEST_F(SafetensorsTest, RejectsOverlapsGapsAndTrailingBytes) {
  EXPECT_ERROR_CONTAINS(
      parse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12),
      "w.safetensors: the data of tensors 'a' and 'b' overlap");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
      "4 data bytes before tensor 'a' belong to no tensor");
  EXPECT_ERROR_CONTAINS(
      parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12),
      "8 data bytes at the end of the file belong to no tensor");
}

TEST_F(SafetensorsTest, RejectsDuplicateNamesAndBadMetadata) {
  EXPECT_ERROR_CONTAINS(
      parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            8),
      "w.safetensors: the safetensors header names 'a' twice");
  EXPECT_ERROR_CONTAINS(parse(R"({"__metadata__":{"epoch":3}})", 0),
                        "'__metadata__' entry 'epoch' is not a string");
}

TEST_F(SafetensorsTest, EmptyFileOfTensorsIsValid) {
  Expected<SafetensorsFile> f = parse("{}", 0);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_TRUE(f->tensors.empty());
  EXPECT_ERROR_CONTAINS(readSafetensors(path("absent.safetensors")),
                        "absent.safetensors: no such file");
}

} // namespace
} // namespace cnnc::rt
