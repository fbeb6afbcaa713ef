// Building blocks of the GPU schedules' kernels (GpuSchedule.cpp and
// GpuConvolution.cpp; not installed, not public): the loops of a stage run
// on the device, and an integer helper tilings share.
#ifndef CNNC_HALIDE_LIB_GPUKERNELS_H
#define CNNC_HALIDE_LIB_GPUKERNELS_H

#include "cnnc/halide/MachineModel.h"

#include "Halide.h"

#include <optional>
#include <vector>

namespace cnnc::hl::gpu {

/// The pure Vars of update `index` of `f` (its left-hand side arguments
/// that are the Func's own Vars), innermost first.
std::vector<Halide::VarOrRVar> pureVarsOfUpdate(const Halide::Func &f,
                                                int index);

/// The reduction variables of `f`'s update, innermost first, by their
/// unqualified names (a split one's is "r$y.ri"; Halide's reorder matches
/// the last part).
std::vector<Halide::VarOrRVar> reductionVarsOf(const Halide::Func &f);

/// The loops of a kernel that runs one thread per element.
struct PerElementLoops {
  Halide::Var block, thread;
};

/// Runs `stage` as one kernel with a thread per point of `vars` (innermost
/// first), in blocks of `threads` (looped over `loops`); nothing for a stage
/// without pure Vars, which runs as a single thread.
std::optional<PerElementLoops>
launchPerElement(Halide::Stage stage, std::vector<Halide::VarOrRVar> vars,
                 int threads);

/// Stores `f` and runs each of its stages on the device, one thread per
/// element; the loops of its pure stage (nothing for a result without
/// dimensions).
std::optional<PerElementLoops> storeOnDevice(Halide::Func f,
                                             const GpuModel &gpu);

/// Runs loop `v` of `s` on the lanes of a warp (CUDA), or on a block's
/// threads (OpenCL, which has no lanes; a block's accumulators are then
/// in its shared memory).
void onLanes(Halide::Stage s, Halide::VarOrRVar v, const GpuModel &gpu);

/// The largest divisor of `n` that is at most `limit`.
int largestDivisorAtMost(int64_t n, int limit);

} // namespace cnnc::hl::gpu

#endif // CNNC_HALIDE_LIB_GPUKERNELS_H
