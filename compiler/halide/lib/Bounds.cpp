#include "cnnc/halide/Bounds.h"

#include <stdexcept>

namespace cnnc::hl {

void constrainToShape(Halide::OutputImageParam buffer,
                      const cnn::shape::Shape &shape, int dynamicEstimate) {
  const int rank = int(shape.size());
  if (buffer.dimensions() != rank)
    throw std::invalid_argument("constrainToShape: buffer " + buffer.name() +
                                " has " + std::to_string(buffer.dimensions()) +
                                " dimensions but the shape is " +
                                cnn::shape::format(shape));
  // Halide dim d is PyTorch dim rank - 1 - d; strides are dense C order.
  int64_t stride = 1;
  bool strideKnown = true;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = shape[rank - 1 - d];
    Halide::Internal::Dimension dim = buffer.dim(d);
    if (strideKnown)
      dim.set_stride(int(stride));
    if (extent == cnn::shape::kDynamic) {
      dim.set_min(0);
      dim.set_estimate(0, dynamicEstimate);
      strideKnown = false; // dims outside a dynamic one have unknown stride
    } else {
      dim.set_bounds(0, int(extent));
      dim.set_estimate(0, int(extent));
      stride *= extent;
    }
  }
}

} // namespace cnnc::hl
