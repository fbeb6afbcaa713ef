#include "cnnc/halide/Backend.h"

#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"

namespace cnnc::hl {

namespace {

/// The CPU schedules (CpuSchedule.h for the forward ops, GradientSchedule.h
/// for the backward ones).
class CpuBackend : public Backend {
public:
  explicit CpuBackend(MachineModel model) : model(std::move(model)) {}

  const MachineModel &machine() const override { return model; }

  void schedule(const ScheduleRequest &request) const override {
    applyDefaultCpuSchedule(request.ops, model, request.groups);
    applyDefaultGradientSchedule(request.grads, model, request.updateOf);
    // Left inline, every element of a gradient would sum over the batch.
    for (const ChannelStats *stats : request.orphanStats)
      for (Halide::Func f : {stats->sum, stats->mean, stats->centred,
                             stats->var})
        storePerChannel(f, model.floatLanes);
  }

private:
  MachineModel model;
};

} // namespace

std::unique_ptr<Backend> selectBackend(const Halide::Target &target,
                                       std::string &error) {
  std::optional<MachineModel> model = cpuMachineModel(target, error);
  if (!model)
    return nullptr;
  return std::make_unique<CpuBackend>(std::move(*model));
}

} // namespace cnnc::hl
