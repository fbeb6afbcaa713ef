#include "cnnc/Tensor.h"

#include <cassert>
#include <limits>
#include <new>

// Tensors, .npy and safetensors files are little-endian; cnnc stores raw bytes.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the cnnc runtime assumes a little-endian host");

namespace cnnc::rt {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::I64:
    return 8;
  case DType::U8:
    return 1;
  }
  return 0;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::I64:
    return "I64";
  case DType::U8:
    return "U8";
  }
  return "?";
}

std::string shapeToString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Expected<int64_t> checkedNumElements(const Shape &shape, DType dtype,
                                     const std::string &what) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return Error(what + ": shape " + shapeToString(shape) +
                   " has a negative dimension");
    if (__builtin_mul_overflow(count, d, &count))
      return Error(what + ": shape " + shapeToString(shape) + " is too large");
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<int64_t>(dtypeSize(dtype)),
                             &bytes) ||
      static_cast<uint64_t>(bytes) > std::numeric_limits<size_t>::max() / 2)
    return Error(what + ": shape " + shapeToString(shape) + " is too large");
  return count;
}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  numElements_ = 1;
  for (int64_t d : shape_) {
    assert(d >= 0 && "use Tensor::create for unchecked shapes");
    numElements_ *= d;
  }
  bytes_.assign(static_cast<size_t>(numElements_) * dtypeSize(dtype_), 0);
}

Expected<Tensor> Tensor::create(DType dtype, Shape shape,
                                const std::string &what) {
  Expected<int64_t> count = checkedNumElements(shape, dtype, what);
  if (!count)
    return count.error();
  try {
    return Tensor(dtype, std::move(shape));
  } catch (const std::bad_alloc &) {
    // Shapes from files and users can be large; report instead of terminating.
    return Error(what + ": out of memory for a tensor of shape " +
                 shapeToString(shape));
  }
}

Expected<Tensor> Tensor::adopt(DType dtype, Shape shape, Bytes bytes,
                               const std::string &what) {
  Expected<int64_t> count = checkedNumElements(shape, dtype, what);
  if (!count)
    return count.error();
  if (bytes.size() != static_cast<size_t>(*count) * dtypeSize(dtype))
    return Error(what + ": " + std::to_string(bytes.size()) +
                 " bytes for a tensor of shape " + shapeToString(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numElements_ = *count;
  t.bytes_ = std::move(bytes);
  return t;
}

Expected<Tensor> Tensor::view(DType dtype, Shape shape,
                              std::shared_ptr<const FileMapping> file,
                              size_t offset, const std::string &what) {
  Expected<int64_t> count = checkedNumElements(shape, dtype, what);
  if (!count)
    return count.error();
  const size_t size = static_cast<size_t>(*count) * dtypeSize(dtype);
  if (!file || offset > file->size() || file->size() - offset < size)
    return Error(what + ": " +
                 std::to_string(file && offset <= file->size()
                                    ? file->size() - offset
                                    : 0) +
                 " bytes for a tensor of shape " + shapeToString(shape));
  if (offset % dtypeSize(dtype) != 0)
    return Error(what + ": " + dtypeName(dtype) + " elements at offset " +
                 std::to_string(offset) + " are not aligned");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numElements_ = *count;
  // No bytes to read: nothing to keep mapped (and no null + 0 pointer).
  if (size > 0) {
    t.file_ = std::move(file);
    t.fileOffset_ = offset;
  }
  return t;
}

Status Tensor::reshape(Shape shape, const std::string &what) {
  Expected<int64_t> count = checkedNumElements(shape, dtype_, what);
  if (!count)
    return count.error();
  if (*count != numElements_)
    return Error(what + ": cannot view shape " + shapeToString(shape_) +
                 " as " + shapeToString(shape));
  shape_ = std::move(shape);
  return Status::success();
}

void Tensor::ownBytes() {
  const unsigned char *begin = file_->data() + fileOffset_;
  bytes_.assign(begin, begin + byteSize());
  file_.reset();
  fileOffset_ = 0;
}

float *Tensor::f32() {
  assert(dtype_ == DType::F32);
  return reinterpret_cast<float *>(bytes());
}
const float *Tensor::f32() const {
  assert(dtype_ == DType::F32);
  return reinterpret_cast<const float *>(bytes());
}
int64_t *Tensor::i64() {
  assert(dtype_ == DType::I64);
  return reinterpret_cast<int64_t *>(bytes());
}
const int64_t *Tensor::i64() const {
  assert(dtype_ == DType::I64);
  return reinterpret_cast<const int64_t *>(bytes());
}
uint8_t *Tensor::u8() {
  assert(dtype_ == DType::U8);
  return bytes();
}
const uint8_t *Tensor::u8() const {
  assert(dtype_ == DType::U8);
  return bytes();
}

} // namespace cnnc::rt
