#include "cnnc/Npy.h"

#include "cnnc/FileIO.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

namespace cnnc::rt {

namespace {

const char kMagic[] = "\x93NUMPY";
const size_t kMagicSize = 6;
// numpy.load refuses headers over 10000 bytes unless told otherwise; anything
// near this limit is corrupt, and the bound keeps the parser cheap.
const size_t kMaxHeaderSize = 1 << 16;

// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This parser accepts exactly the literals numpy writes there.
class HeaderParser {
public:
  explicit HeaderParser(std::string text) : s_(std::move(text)) {}

  std::string descr;
  bool fortranOrder = false;
  Shape shape;

  // Returns an empty string on success, else what is wrong.
  std::string parse() {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    skipSpace();
    if (!eat('{'))
      return "the header is not a Python dict";
    while (true) {
      skipSpace();
      if (eat('}'))
        break;
      std::string key;
      if (!parseString(key))
        return "expected a quoted key in the header";
      skipSpace();
      if (!eat(':'))
        return "expected ':' after '" + key + "' in the header";
      skipSpace();
      if (key == "descr") {
        if (!parseString(descr))
          return "'descr' is not a string";
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (eatWord("True"))
          fortranOrder = true;
        else if (eatWord("False"))
          fortranOrder = false;
        else
          return "'fortran_order' is neither True nor False";
        haveOrder = true;
      } else if (key == "shape") {
        std::string err = parseShape();
        if (!err.empty())
          return err;
        haveShape = true;
      } else {
        return "unexpected key '" + key + "' in the header";
      }
      skipSpace();
      if (eat(','))
        continue;
      skipSpace();
      if (eat('}'))
        break;
      return "expected ',' or '}' in the header";
    }
    skipSpace();
    if (pos_ != s_.size())
      return "unexpected text after the header dict";
    if (!haveDescr || !haveOrder || !haveShape)
      return "the header lacks 'descr', 'fortran_order' or 'shape'";
    return "";
  }

private:
  void skipSpace() {
    while (pos_ < s_.size() &&
           std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eatWord(const char *word) {
    size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }
  bool parseString(std::string &out) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
      return false;
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    if (end == std::string::npos)
      return false;
    out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  std::string parseShape() {
    if (!eat('('))
      return "'shape' is not a tuple";
    while (true) {
      skipSpace();
      if (eat(')'))
        return "";
      size_t start = pos_;
      int64_t value = 0;
      while (pos_ < s_.size() &&
             std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, s_[pos_] - '0', &value))
          return "a dimension in 'shape' is too large";
        ++pos_;
      }
      if (pos_ == start)
        return "'shape' holds something other than non-negative integers";
      // numpy 1.x on some platforms wrote longs as 3L.
      eat('L');
      shape.push_back(value);
      skipSpace();
      if (eat(','))
        continue;
      skipSpace();
      if (eat(')'))
        return "";
      return "expected ',' or ')' in 'shape'";
    }
  }

  std::string s_;
  size_t pos_ = 0;
};

uint32_t readLE(std::string_view bytes, size_t offset, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i]))
         << (8 * i);
  return v;
}

} // namespace

namespace {

// What the header says, and where the data starts.
struct NpyHeader {
  DType dtype;
  Shape shape;
  size_t dataStart;
  size_t dataSize; // bytes of the shape's elements
};

// The header of a .npy file from its first bytes (the whole file, or at
// least as many bytes as the largest header allowed).
Expected<NpyHeader> parseNpyHeader(std::string_view bytes,
                                   const std::string &path) {
  if (bytes.size() < kMagicSize + 2 ||
      std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    return Error(path + ": not a NumPy .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    return Error(path + ": unsupported .npy format version " +
                 std::to_string(major) + "." + std::to_string(minor) +
                 " (cnnc reads 1.0, 2.0 and 3.0)");
  size_t lenWidth = major == 1 ? 2 : 4;
  size_t headerStart = kMagicSize + 2 + lenWidth;
  if (bytes.size() < headerStart)
    return Error(path + ": truncated .npy header");
  size_t headerLen = readLE(bytes, kMagicSize + 2, lenWidth);
  if (headerLen > kMaxHeaderSize)
    return Error(path + ": .npy header length " + std::to_string(headerLen) +
                 " is absurd (limit " + std::to_string(kMaxHeaderSize) + ")");
  if (bytes.size() < headerStart + headerLen)
    return Error(path + ": truncated .npy header (needs " +
                 std::to_string(headerLen) + " bytes, the file has " +
                 std::to_string(bytes.size() - headerStart) + ")");

  HeaderParser parser(std::string(bytes.substr(headerStart, headerLen)));
  std::string problem = parser.parse();
  if (!problem.empty())
    return Error(path + ": malformed .npy header: " + problem);

  DType dtype;
  if (parser.descr == "<f4")
    dtype = DType::F32;
  else if (parser.descr == "<i8")
    dtype = DType::I64;
  else if (parser.descr == ">f4" || parser.descr == ">i8")
    return Error(path + ": big-endian data ('" + parser.descr +
                 "') is not supported; save it little-endian (arr.astype('<" +
                 parser.descr.substr(1) + "'))");
  else if (parser.descr == "<f8")
    return Error(path + ": float64 data is not supported; save it as float32 "
                        "(arr.astype(numpy.float32))");
  else
    return Error(path + ": unsupported dtype '" + parser.descr +
                 "' (cnnc reads float32 '<f4' and int64 '<i8')");
  if (parser.fortranOrder)
    return Error(path +
                 ": Fortran-order arrays are not supported; save a C-order "
                 "array (numpy.ascontiguousarray(arr))");
  Expected<int64_t> count = checkedNumElements(parser.shape, dtype, path);
  if (!count)
    return count.error();
  return NpyHeader{dtype, std::move(parser.shape), headerStart + headerLen,
                   size_t(*count) * dtypeSize(dtype)};
}

// The data must be exactly the shape's bytes. Checked against the file
// before anything is allocated: a header may claim any shape.
Status checkDataSize(const NpyHeader &header, uint64_t have,
                     const std::string &path) {
  const size_t need = header.dataSize;
  if (have < need)
    return Error(path + ": truncated data: shape " +
                 shapeToString(header.shape) + " needs " +
                 std::to_string(need) + " bytes, the file has " +
                 std::to_string(have));
  if (have > need)
    return Error(path + ": " + std::to_string(have - need) +
                 " unexpected bytes after the data of shape " +
                 shapeToString(header.shape));
  return Status::success();
}

} // namespace

Expected<Tensor> parseNpy(std::string_view bytes, const std::string &path) {
  Expected<NpyHeader> header = parseNpyHeader(bytes, path);
  if (!header)
    return header.error();
  if (Status s = checkDataSize(*header, bytes.size() - header->dataStart, path);
      !s)
    return s;
  Expected<Tensor> tensor = Tensor::create(header->dtype, header->shape, path);
  if (!tensor)
    return tensor.error();
  if (header->dataSize)
    std::memcpy(tensor->bytes(), bytes.data() + header->dataStart,
                header->dataSize);
  return tensor;
}

// The header from the file's first bytes, then the data read straight into
// the tensor's storage: a large array is read once, with no copy.
Expected<Tensor> readNpy(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return file.error();
  std::string prefix(
      std::min<uint64_t>(file->size(), kMagicSize + 2 + 4 + kMaxHeaderSize),
      '\0');
  Expected<size_t> got = file->readAt(prefix.data(), prefix.size(), 0);
  if (!got)
    return got.error();
  prefix.resize(*got);
  Expected<NpyHeader> header = parseNpyHeader(prefix, path);
  if (!header)
    return header.error();
  if (Status s = checkDataSize(*header, file->size() - header->dataStart, path);
      !s)
    return s;
  Bytes data;
  try {
    data.resize(header->dataSize);
  } catch (const std::bad_alloc &) {
    return Error(path + ": out of memory for a tensor of shape " +
                 shapeToString(header->shape));
  }
  got = file->readAt(data.data(), data.size(), header->dataStart);
  if (!got)
    return got.error();
  if (*got != data.size())
    return Error(path + ": the file shrank while it was read");
  return Tensor::adopt(header->dtype, header->shape, std::move(data), path);
}

std::string npyHeader(const Tensor &tensor) {
  std::string dict = "{'descr': '";
  dict += tensor.dtype() == DType::F32   ? "<f4"
          : tensor.dtype() == DType::I64 ? "<i8"
                                         : "|u1";
  dict += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    if (i)
      dict += ", ";
    dict += std::to_string(tensor.shape()[i]);
  }
  // A 1-tuple needs its trailing comma in Python.
  if (tensor.shape().size() == 1)
    dict += ",";
  dict += "), }";
  // Like numpy: pad with spaces and end with '\n' so the data starts at a
  // multiple of 64 bytes.
  size_t prefix = kMagicSize + 2 + 2;
  size_t total = prefix + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';

  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

Status writeNpy(const std::string &path, const Tensor &tensor) {
  std::string header = npyHeader(tensor);
  if (header.size() > 0xffff + 10)
    return Error(path + ": shape " + shapeToString(tensor.shape()) +
                 " does not fit a .npy 1.0 header");
  return writeFileAtomic(path, {{header.data(), header.size()},
                                {tensor.bytes(), tensor.byteSize()}});
}

} // namespace cnnc::rt
