// Splits a long cnn function into segments, each lowered to its own Halide
// pipeline. Halide 14's lowering passes take time that grows with the
// square of the number of stored Funcs in one pipeline (each compute_root
// Func nests the rest of the pipeline in its Realize node, and several
// passes walk that nest once per Func): ResNet-18's training step as one
// pipeline does not compile in half an hour, in segments of about 32 ops
// it does in minutes. Segments run one after the other; the values that
// cross from one to a later one are stored between them.
#ifndef CNNC_LOWERING_SEGMENTATION_H
#define CNNC_LOWERING_SEGMENTATION_H

#include "cnnc/lowering/FunctionFusion.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace cnnc {

/// The ops of each segment, in an order that respects every use.
using SegmentPlan = std::vector<std::vector<mlir::Operation *>>;

/// The default `segmentOps` of planSegments.
constexpr int kDefaultSegmentOps = 32;

/// Plans the segments of a function's body, whose ops and fusion plan are
/// `fusion` (cnn.parameter and the return are not ops of any segment). A
/// function of at most 2 x `segmentOps` ops is one segment, so that small
/// networks keep every fusion. Longer ones are cut after about `segmentOps`
/// ops, where the cut separates no ops that `fusion` computes together
/// (FusionPlan's bundles: a group, a convolution and the pool it is computed
/// in): the value crossing the cut is then stored anyway. Past 2 x `segmentOps`
/// ops without such a place the cut is forced (a stored value costs less than a
/// pipeline that does not compile). Ops without results (the SGD and
/// running-statistics updates, which come last in a training step) go to the
/// segment where their last operand is computed, so the gradients and
/// statistics they read do not cross. `segmentOps` <= 0 means one segment.
SegmentPlan planSegments(const FunctionFusion &fusion, int segmentOps);

} // namespace cnnc

#endif // CNNC_LOWERING_SEGMENTATION_H
