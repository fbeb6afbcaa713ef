// Static shape facts for the buffers at the edge of a pipeline (inputs,
// parameters, outputs) for AOT compilation with a dynamic batch.
#ifndef CNNC_HALIDE_BOUNDS_H
#define CNNC_HALIDE_BOUNDS_H

#include "cnn/ShapeRules.h"

#include <Halide.h>

namespace cnnc::hl {

/// Declares `buffer` (an ImageParam, or Func::output_buffer()) as a dense
/// tensor of `shape` in PyTorch order (dimension 0 of the Halide buffer is
/// the last of `shape`): every min is 0, every static extent and every
/// stride is fixed (the batch stride too, since it only depends on the
/// static dims); a kDynamic dimension keeps a run-time extent. Halide then
/// checks the shape of every buffer passed in and can use constant strides.
/// Also sets estimates (a dynamic dim gets `dynamicEstimate`) for the
/// autoschedulers.
void constrainToShape(Halide::OutputImageParam buffer,
                      const cnn::shape::Shape &shape, int dynamicEstimate = 1);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_BOUNDS_H
