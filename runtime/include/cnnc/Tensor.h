// A dense, contiguous, row-major (C order) tensor owned by the runtime.
#ifndef CNNC_TENSOR_H
#define CNNC_TENSOR_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"

#include <cstddef>
#include <cstdint>
#include <map>
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

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numElements() const { return numElements_; }
  size_t byteSize() const { return bytes_.size(); }

  // Raw storage (little-endian on the hosts cnnc supports).
  unsigned char *bytes() { return bytes_.data(); }
  const unsigned char *bytes() const { return bytes_.data(); }

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
  Bytes bytes_; // aligned to 64 bytes, enough for every dtype
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
