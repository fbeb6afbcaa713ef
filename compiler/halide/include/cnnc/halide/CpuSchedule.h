// The default CPU schedule of a pipeline of lowered ops, kept apart from the
// algorithms (Ops.h) so that other policies (CUDA, autoschedulers, tuned
// register-blocked schedules) can replace it without touching them.
#ifndef CNNC_HALIDE_CPUSCHEDULE_H
#define CNNC_HALIDE_CPUSCHEDULE_H

#include "cnnc/halide/Ops.h"

#include <Halide.h>

#include <vector>

namespace cnnc::hl {

/// Schedules every Func of `ops` (all ops of one pipeline) for `target`:
/// correct for any batch size, vectorised by the target's natural float
/// width, parallel over batch x channels (or batch x output features).
///
///  - Each conv/linear/pool computes its reduction per vector of outputs
///    inside the loops of the tensor it produces (compute_at, not root).
///  - Element-wise activations that are the only consumer of an op's result
///    are fused into it: the last activation of the chain is the stored
///    tensor; the op's output and the inner activations are inlined.
///  - Boundary conditions (`padded`) and weight/bias wrappers stay inline.
///  - Every other op result is stored once (compute_root): it is the next
///    layer's input.
///  - All splits of outputs use GuardWithIf, so nothing is computed or read
///    outside the tensors' real extents (odd sizes, batch 1 included).
///
/// `pipelineOutputs` names every Func the pipeline returns; they are never
/// fused away. The two-argument form takes the last op's output as the only
/// pipeline output.
void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const Halide::Target &target);
void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const Halide::Target &target,
                             const std::vector<Halide::Func> &pipelineOutputs);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_CPUSCHEDULE_H
