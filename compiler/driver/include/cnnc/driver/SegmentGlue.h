// The tables that run a pipeline lowered in segments (Segmentation.h) as
// the one pipeline it replaces: the wrapper's segments.c runs them under the
// replaced pipeline's argv entry point, so the ABI wrapper calls it like any
// Halide pipeline.
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

/// C text, part of model_tables.h, defining for each (name, pipeline) with
/// more than one segment its segments' table (argv entry points, the
/// intermediates each reads and what each writes, the intermediates' shapes)
/// and `int <name>_argv(void **args)`, which runs them (segments.c). Empty
/// when no pipeline has several segments.
std::string emitSegmentGlue(
    const std::vector<std::pair<std::string, const LoweredPipeline *>>
        &pipelines);

} // namespace cnnc

#endif // CNNC_DRIVER_SEGMENTGLUE_H
