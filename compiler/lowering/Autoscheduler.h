// The autoscheduler policy (internal to the lowering).
#ifndef CNNC_LOWERING_AUTOSCHEDULER_H
#define CNNC_LOWERING_AUTOSCHEDULER_H

#include "cnnc/halide/MachineModel.h"
#include "cnnc/lowering/HalideLowering.h"

#include <Halide.h>

namespace cnnc {

/// Runs the policy's autoscheduler on `pipeline` (estimates must be set),
/// loading its plugin first; throws std::runtime_error when it cannot.
void autoschedule(Halide::Pipeline &pipeline, const SchedulePolicy &policy,
                  const Halide::Target &target,
                  const hl::MachineModel &machine);

} // namespace cnnc

#endif // CNNC_LOWERING_AUTOSCHEDULER_H
