// NumPy .npy reading and writing.
#include "TestUtil.h"

#include "cnnc/Npy.h"

#include <cstring>

namespace cnnc::rt {
namespace {

using test::readBytes;
using test::writeBytes;

// A .npy file from its parts; `lenWidth` 2 for version 1.0, 4 for 2.0/3.0.
std::string makeNpy(int major, const std::string &dict, const std::string &data,
                    int64_t headerLenOverride = -1) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  uint64_t len = headerLenOverride >= 0
                     ? static_cast<uint64_t>(headerLenOverride)
                     : dict.size();
  int width = major == 1 ? 2 : 4;
  for (int i = 0; i < width; ++i)
    s += static_cast<char>((len >> (8 * i)) & 0xff);
  return s + dict + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

const std::string kF32Dict =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";

class NpyTest : public test::TempDirTest {};

TEST_F(NpyTest, RoundTripFloat32) {
  Tensor t(DType::F32, {2, 3});
  for (int i = 0; i < 6; ++i)
    t.f32()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  ASSERT_TRUE(writeNpy(path("x.npy"), t).ok());
  Expected<Tensor> back = readNpy(path("x.npy"));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->shape(), (Shape{2, 3}));
  EXPECT_TRUE(test::sameTensor(*back, t));
}

TEST_F(NpyTest, RoundTripInt64ScalarAndEmpty) {
  Tensor labels(DType::I64, {5});
  for (int i = 0; i < 5; ++i)
    labels.i64()[i] = (int64_t{1} << 40) + i; // needs all 8 bytes
  Tensor scalar(DType::F32, {});
  scalar.f32()[0] = 3.25f;
  Tensor empty(DType::F32, {0, 3});
  for (const Tensor *t : {&labels, &scalar, &empty}) {
    ASSERT_TRUE(writeNpy(path("t.npy"), *t).ok());
    Expected<Tensor> back = readNpy(path("t.npy"));
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(back->shape(), t->shape());
    EXPECT_TRUE(test::sameTensor(*back, *t));
  }
}

TEST_F(NpyTest, WritesTheBytesNumpyWrites) {
  // numpy.save("x.npy", numpy.arange(5, dtype="<i8")) writes exactly this
  // header.
  Tensor t(DType::I64, {5});
  std::string header = npyHeader(t);
  std::string dict =
      "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }";
  EXPECT_EQ(header.size(), 128u);
  EXPECT_EQ(header.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(header.substr(10, dict.size()), dict);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.find_first_not_of(' ', 10 + dict.size()), header.size() - 1);
}

TEST_F(NpyTest, ReadsVersion2AndDoubleQuotes) {
  std::string dict =
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}";
  writeBytes(path("v2.npy"), makeNpy(2, dict, floats({1, 2, 3, 4, 5, 6})));
  Expected<Tensor> t = readNpy(path("v2.npy"));
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->shape(), (Shape{2, 3}));
  EXPECT_EQ(t->f32()[5], 6.0f);
}

TEST_F(NpyTest, RejectsBadMagic) {
  writeBytes(path("x.npy"), "PK\x03\x04 this is a zip, not an npy file");
  EXPECT_ERROR_CONTAINS(readNpy(path("x.npy")),
                        "x.npy: not a NumPy .npy file (bad magic)");
}

TEST_F(NpyTest, RejectsFortranOrder) {
  std::string dict =
      "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n";
  writeBytes(path("x.npy"), makeNpy(1, dict, floats({1, 2, 3, 4, 5, 6})));
  EXPECT_ERROR_CONTAINS(readNpy(path("x.npy")),
                        "x.npy: Fortran-order arrays are not supported");
}

TEST_F(NpyTest, RejectsBigEndian) {
  std::string dict =
      "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  writeBytes(path("x.npy"), makeNpy(1, dict, floats({1, 2, 3, 4, 5, 6})));
  EXPECT_ERROR_CONTAINS(readNpy(path("x.npy")),
                        "x.npy: big-endian data ('>f4')");
}

TEST_F(NpyTest, RejectsOtherDtypes) {
  std::string f64 =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n";
  writeBytes(path("d.npy"), makeNpy(1, f64, std::string(8, '\0')));
  EXPECT_ERROR_CONTAINS(readNpy(path("d.npy")),
                        "d.npy: float64 data is not supported");
  std::string u8 =
      "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }\n";
  writeBytes(path("u.npy"), makeNpy(1, u8, std::string(1, '\0')));
  EXPECT_ERROR_CONTAINS(readNpy(path("u.npy")),
                        "u.npy: unsupported dtype '|u1'");
}

TEST_F(NpyTest, RejectsTruncatedAndTrailingData) {
  writeBytes(path("short.npy"), makeNpy(1, kF32Dict, floats({1, 2, 3, 4, 5})));
  EXPECT_ERROR_CONTAINS(readNpy(path("short.npy")),
                        "short.npy: truncated data: shape [2, 3] needs 24 "
                        "bytes, the file has 20");
  writeBytes(path("long.npy"),
             makeNpy(1, kF32Dict, floats({1, 2, 3, 4, 5, 6, 7})));
  EXPECT_ERROR_CONTAINS(readNpy(path("long.npy")),
                        "long.npy: 4 unexpected bytes");
}

// Found by fuzz/NpyFuzzer.cpp: a header claiming terabytes over a few
// bytes of data is refused as truncated before anything is allocated.
TEST_F(NpyTest, AHugeShapeOverAShortFileIsTruncatedNotAllocated) {
  writeBytes(path("huge.npy"),
             makeNpy(1,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(2, 1, 2222222222222), }",
                     floats({1, 2})));
  EXPECT_ERROR_CONTAINS(readNpy(path("huge.npy")),
                        "huge.npy: truncated data: shape [2, 1, "
                        "2222222222222] needs 17777777777776 bytes, the file "
                        "has 8");
}

TEST_F(NpyTest, RejectsTruncatedAndAbsurdHeaders) {
  writeBytes(path("cut.npy"),
             makeNpy(1, kF32Dict.substr(0, 20), "", kF32Dict.size()));
  EXPECT_ERROR_CONTAINS(readNpy(path("cut.npy")),
                        "cut.npy: truncated .npy header");
  writeBytes(path("huge.npy"), makeNpy(2, kF32Dict, "", 0xfffffff0));
  EXPECT_ERROR_CONTAINS(readNpy(path("huge.npy")),
                        "huge.npy: .npy header length 4294967280 is absurd");
  writeBytes(path("tiny.npy"), std::string("\x93NUMPY\x01", 7));
  EXPECT_ERROR_CONTAINS(readNpy(path("tiny.npy")),
                        "tiny.npy: not a NumPy .npy file");
}

TEST_F(NpyTest, RejectsMalformedHeaderDicts) {
  struct Case {
    std::string dict, message;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False}",
       "the header lacks 'descr', 'fortran_order' or 'shape'"},
      {"['descr', '<f4']", "the header is not a Python dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2)}",
       "'shape' holds something other than non-negative integers"},
      {"{'descr': '<f4', 'fortran_order': maybe, 'shape': ()}",
       "'fortran_order' is neither True nor False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}",
       "unexpected key 'x'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(99999999999999999999,)}",
       "a dimension in 'shape' is too large"},
  };
  for (const Case &c : cases) {
    writeBytes(path("x.npy"), makeNpy(1, c.dict, ""));
    Expected<Tensor> t = readNpy(path("x.npy"));
    EXPECT_ERROR_CONTAINS(t, "x.npy: malformed .npy header: " + c.message);
  }
}

TEST_F(NpyTest, RejectsUnknownVersion) {
  writeBytes(path("x.npy"), makeNpy(4, kF32Dict, floats({1, 2, 3, 4, 5, 6})));
  EXPECT_ERROR_CONTAINS(readNpy(path("x.npy")),
                        "x.npy: unsupported .npy format version 4.0");
}

TEST_F(NpyTest, ReportsMissingFileAndUnwritableDirectory) {
  EXPECT_ERROR_CONTAINS(readNpy(path("absent.npy")),
                        "absent.npy: no such file");
  Tensor t(DType::F32, {1});
  EXPECT_ERROR_CONTAINS(writeNpy(path("no/such/dir/y.npy"), t),
                        "y.npy: cannot create");
}

} // namespace
} // namespace cnnc::rt
