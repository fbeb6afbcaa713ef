// A dense, contiguous, row-major (C order) tensor owned by the runtime.
#ifndef CNNC_TENSOR_H
#define CNNC_TENSOR_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"
#include "cnnc/FileIO.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cnnc::rt {

// U8 holds image bytes only (datasets); the ABI and files use F32 and I64.
enum class DType { F32, I64, U8 };

using Shape = std::vector<int64_t>;

// Bytes per element.
size_t dtypeSize(DType dtype);
// "F32" / "I64" / "U8": the safetensors spelling.
const char *dtypeName(DType dtype);

// "[6, 3, 5, 5]"; "[]" for a scalar.
std::string shapeToString(const Shape &shape);

// Number of elements of a shape, or an Error (naming `what`) when a dimension
// is negative or the count or its byte size overflows.
Expected<int64_t> checkedNumElements(const Shape &shape, DType dtype,
                                     const std::string &what);

class Tensor {
public:
  Tensor() = default;
  // Zero-filled. The shape must be valid (see checkedNumElements); use
  // Tensor::create where it comes from a file or a user.
  Tensor(DType dtype, Shape shape);

  static Expected<Tensor> create(DType dtype, Shape shape,
                                 const std::string &what);
  // A tensor whose storage is `bytes` (which must hold exactly the shape's
  // elements), without copying them.
  static Expected<Tensor> adopt(DType dtype, Shape shape, Bytes bytes,
                                const std::string &what);
  // A tensor that reads its elements in place from `file` at `offset`
  // (aligned to the dtype; the file must hold them): a dataset file used
  // without a copy. Copies share the mapping; the first write access (a
  // non-const accessor) copies the bytes into storage of the tensor's own.
  static Expected<Tensor> view(DType dtype, Shape shape,
                               std::shared_ptr<const FileMapping> file,
                               size_t offset, const std::string &what);

  // The same elements under `shape`, which must have as many; the error
  // names `what`.
  Status reshape(Shape shape, const std::string &what);

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numElements() const { return numElements_; }
  size_t byteSize() const {
    return file_ ? static_cast<size_t>(numElements_) * dtypeSize(dtype_)
                 : bytes_.size();
  }
  // Whether the elements are read in place from a file (see view).
  bool isFileView() const { return file_ != nullptr; }

  // Raw storage (little-endian on the hosts cnnc supports).
  unsigned char *bytes() {
    if (file_)
      ownBytes();
    return bytes_.data();
  }
  const unsigned char *bytes() const {
    return file_ ? file_->data() + fileOffset_ : bytes_.data();
  }

  // Typed views; the dtype must match (checked by assert only).
  float *f32();
  const float *f32() const;
  int64_t *i64();
  const int64_t *i64() const;
  uint8_t *u8();
  const uint8_t *u8() const;

private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numElements_ = 0;
  // Copies a view's bytes into bytes_ and lets go of the file.
  void ownBytes();

  Bytes bytes_; // aligned to 64 bytes, enough for every dtype
  // Where a view's elements are instead (bytes_ then empty).
  std::shared_ptr<const FileMapping> file_;
  size_t fileOffset_ = 0;
};

// Named tensors, sorted by name (as a state_dict is saved).
using TensorMap = std::map<std::string, Tensor>;

// A float32 parameter of a network: its PyTorch state_dict name and shape.
struct ParameterSpec {
  std::string name;
  Shape shape;
};

} // namespace cnnc::rt

#endif // CNNC_TENSOR_H
