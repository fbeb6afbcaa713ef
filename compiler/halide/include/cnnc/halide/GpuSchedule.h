// The GPU schedules (CUDA and OpenCL), siblings of the CPU ones behind the
// backend seam (Backend.h): the same algorithms and the same fusion plan,
// every stage run on the device.
#ifndef CNNC_HALIDE_GPUSCHEDULE_H
#define CNNC_HALIDE_GPUSCHEDULE_H

#include "cnnc/halide/Backend.h"

namespace cnnc::hl {

/// Schedules every Func of `request` for the GPU `machine` describes
/// (machine.gpu set), so that no stage of the pipeline runs on the host:
///
///  - Each fusion group is one kernel over its stored tensor, one thread per
///    element (all dimensions fused, blocks of machine.gpu->threadsPerBlock
///    threads): the chain's pointwise ops are inlined, and the anchor's
///    reduction (a conv, linear or pool) is accumulated by the thread in
///    registers. Where the group's batch statistics also read the anchor's
///    result (batch norm in training), the reduction is stored instead, so
///    it is computed once. A padded input is copied into its zeroed
///    plane by a kernel of its own.
///  - Per-channel intermediates (batch norm's scale, shift and statistics)
///    and every gradient, its reduction and its stored intermediates are
///    kernels of their own, one thread per element of the result; each
///    thread sums its reduction in a fixed order, so results do not depend
///    on the launch (no atomics).
///  - A result with no dimensions (the loss) is one thread.
void applyGpuSchedule(const ScheduleRequest &request,
                      const MachineModel &machine);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_GPUSCHEDULE_H
