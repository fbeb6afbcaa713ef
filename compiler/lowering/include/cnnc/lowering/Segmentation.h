// Splits a long cnn function into segments, each lowered to its own Halide
// pipeline. Halide 14's lowering passes take time that grows with the
// square of the number of stored Funcs in one pipeline (each compute_root
// Func nests the rest of the pipeline in its Realize node, and several
// passes walk that nest once per Func): ResNet-18's training step as one
// pipeline does not compile in half an hour, in segments of about 8 ops
// it does in 37 s on 2 cores. Segments run one after the other; the values that
// cross from one to a later one are stored between them.
#ifndef CNNC_LOWERING_SEGMENTATION_H
#define CNNC_LOWERING_SEGMENTATION_H

#include "cnnc/lowering/FunctionFusion.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace cnnc {

/// The ops of each segment, in an order that respects every use.
using SegmentPlan = std::vector<std::vector<mlir::Operation *>>;

/// How long the segments of planSegments are, by default as measured in
/// docs/design.md ("Fusion plan, segments"): Halide's lowering time grows
/// with the square of a pipeline's stored Funcs, so shorter segments compile
/// faster, but a cut can cost a forward pass speed.
struct SegmentSizes {
  /// A function of at most this many ops is one pipeline, so that small
  /// networks keep every fusion.
  int wholeUpTo = 64;
  /// Longer ones are cut after about this many ops: func @forward...
  int forward = 32;
  /// ...and the training step, which lost no speed measured to shorter
  /// segments (a forward pass did).
  int train = 8;

  /// `ops` for every function, one pipeline up to 2 x `ops` ops (0: one
  /// pipeline whatever the length): the meaning of `cnnc --segment-ops`.
  static SegmentSizes uniform(int ops) { return {2 * ops, ops, ops}; }
};

/// Plans the segments of a function's body, whose ops and fusion plan are
/// `fusion` (cnn.parameter and the return are not ops of any segment). A
/// function of at most `wholeUpTo` ops is one segment. Longer ones are cut
/// after about `segmentOps` ops, where the cut separates no ops that `fusion`
/// computes together (FusionPlan's bundles: a group, a convolution and the
/// pool it is computed in): the value crossing the cut is then stored anyway.
/// Past 2 x `segmentOps` ops without such a place the cut is forced (a stored
/// value costs less than a pipeline that does not compile). Ops without
/// results (the SGD and running-statistics updates, which come last in a
/// training step) go to the segment where their last operand is computed, so
/// the gradients and statistics they read do not cross. `segmentOps` <= 0
/// means one segment; a negative `wholeUpTo` counts as 0.
SegmentPlan planSegments(const FunctionFusion &fusion, int segmentOps,
                         int wholeUpTo);

} // namespace cnnc

#endif // CNNC_LOWERING_SEGMENTATION_H
