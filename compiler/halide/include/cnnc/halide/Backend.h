// The seam between the algorithms (Ops.h, Gradients.h) and the schedules:
// a backend schedules one pipeline's lowered ops, grouped by the fusion plan
// (FusionPlan.h), for a machine it describes with an explicit model. The CPU
// backend (CpuSchedule.h, GradientSchedule.h) serves x86-64 with AVX2 or
// AVX-512 and AArch64; the GPU backend (GpuSchedule.h) serves CUDA and
// OpenCL behind the same interface.
#ifndef CNNC_HALIDE_BACKEND_H
#define CNNC_HALIDE_BACKEND_H

#include "cnnc/halide/FusionPlan.h"
#include "cnnc/halide/Gradients.h"
#include "cnnc/halide/MachineModel.h"
#include "cnnc/halide/Ops.h"

#include <Halide.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::hl {

/// One pipeline's ops as the lowering hands them to a backend: every Func
/// of them is scheduled by it.
struct ScheduleRequest {
  std::vector<LoweredOp> &ops;
  std::vector<LoweredGrad> &grads;
  /// The fusion plan's groups of `ops`, as indices into `ops` (a group's
  /// computedInside indexes `groups`).
  const std::vector<fusion::Group> &groups;
  /// For each of `grads`, the index in `grads` of the update computed with
  /// it (a weight or bias gradient and its SGD step), if any.
  const std::vector<std::optional<size_t>> &updateOf;
  /// Batch statistics no forward op of the pipeline computes (read only by
  /// gradients and running-statistics updates): stored once.
  const std::vector<const ChannelStats *> &orphanStats;
  /// The pipeline's outputs (Halide computes each at root, whatever its
  /// schedule says).
  const std::vector<Halide::Func> &outputs;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual const MachineModel &machine() const = 0;
  /// Schedules every Func of `request` (once: Halide schedules cannot be
  /// re-split).
  virtual void schedule(const ScheduleRequest &request) const = 0;
};

/// Whether the schedules (CPU and GPU) leave `ops[index]`, a flatten,
/// inline for its readers to read in place: alone in its group (no activation
/// fused after it), not a pipeline output, its rows whole vectors of `machine`,
/// and read in `ops` only by linear layers.
bool readsFlattenInPlace(const std::vector<LoweredOp> &ops, size_t index,
                         const std::vector<fusion::Group> &groups,
                         const std::vector<Halide::Func> &pipelineOutputs,
                         const MachineModel &machine);

/// The results that something other than the backward ops reads: the
/// pipeline's outputs and the forward ops' operands (the add that sums the
/// gradients of a value read twice is a forward op). Backward fusion
/// (backwardFusion, both backends) leaves them stored.
std::vector<Halide::Func> readOutsideGradients(const ScheduleRequest &request);

/// Checks that a backend decided where every result of `request` is
/// computed: stored (compute_root or compute_at), or inlined as a member of
/// a fused group, or a flatten its readers read in place
/// (readsFlattenInPlace) or a gradient computed in its reader's loops
/// (backwardFusion). Throws std::logic_error naming the first op
/// left with Halide's default (inlined everywhere), e.g. an op kind the backend
/// does not know. On a GPU, also throws naming the first Func stored on the
/// host (computed at root without GPU loops in every stage).
void verifyEveryResultScheduled(const ScheduleRequest &request,
                                const MachineModel &machine);

/// The backend for `target` (the GPU backend when it asks for a GPU API),
/// or null with `error` saying why there is none.
std::unique_ptr<Backend> selectBackend(const Halide::Target &target,
                                       std::string &error);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_BACKEND_H
