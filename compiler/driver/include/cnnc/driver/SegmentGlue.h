// C glue that runs a pipeline lowered in segments (Segmentation.h) under the
// name and signature of the one pipeline it replaces, so the ABI wrapper
// (ModelDescription.h) calls it like any Halide pipeline.
#ifndef CNNC_DRIVER_SEGMENTGLUE_H
#define CNNC_DRIVER_SEGMENTGLUE_H

#include "cnnc/lowering/HalideLowering.h"

#include <string>
#include <utility>
#include <vector>

namespace cnnc {

/// The name segment `index` of a pipeline called `name` is compiled under:
/// `name` itself when it is the only segment, else name_s<index>.
std::string segmentFunctionName(const std::string &name, size_t index,
                                size_t count);

/// C source defining, for each (name, pipeline) with more than one segment,
/// `int name(...)` taking the pipeline's arguments then its output buffers.
/// It runs the segments in order, each intermediate in a buffer from
/// halide_malloc (the wrapper's caching allocator) from before the segment
/// that writes it to after the last that reads it, and returns the first
/// non-zero status. Empty when no pipeline has several segments.
std::string emitSegmentGlue(
    const std::vector<std::pair<std::string, const LoweredPipeline *>>
        &pipelines);

} // namespace cnnc

#endif // CNNC_DRIVER_SEGMENTGLUE_H
