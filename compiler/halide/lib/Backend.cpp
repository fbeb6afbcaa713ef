#include "cnnc/halide/Backend.h"

#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/GpuSchedule.h"
#include "cnnc/halide/GradientSchedule.h"

#include <stdexcept>

namespace cnnc::hl {

std::vector<Halide::Func> readOutsideGradients(const ScheduleRequest &request) {
  std::vector<Halide::Func> funcs = request.outputs;
  for (const LoweredOp &op : request.ops)
    for (const Tensor &t : op.inputs)
      funcs.push_back(t.func);
  return funcs;
}

namespace {

/// The CPU schedules (CpuSchedule.h for the forward ops, GradientSchedule.h
/// for the backward ones).
class CpuBackend : public Backend {
public:
  explicit CpuBackend(MachineModel model) : model(std::move(model)) {}

  const MachineModel &machine() const override { return model; }

  void schedule(const ScheduleRequest &request) const override {
    applyDefaultCpuSchedule(request.ops, model, request.groups,
                            request.outputs);
    applyDefaultGradientSchedule(request.grads, model, request.updateOf,
                                 readOutsideGradients(request));
    // Left inline, every element of a gradient would sum over the batch.
    for (const ChannelStats *stats : request.orphanStats)
      for (Halide::Func f :
           {stats->sum, stats->mean, stats->centred, stats->var})
        storePerChannel(f, model.floatLanes);
  }

private:
  MachineModel model;
};

/// The GPU schedules (GpuSchedule.h), for CUDA and OpenCL.
class GpuBackend : public Backend {
public:
  explicit GpuBackend(MachineModel model) : model(std::move(model)) {}

  const MachineModel &machine() const override { return model; }

  void schedule(const ScheduleRequest &request) const override {
    applyGpuSchedule(request, model);
  }

private:
  MachineModel model;
};

/// Every stage of `f` runs in GPU kernels (or `f` is inlined or computed
/// inside another Func's loops, which are checked themselves).
bool runsOnDevice(const Halide::Func &f) {
  const Halide::Internal::Function function = f.function();
  Halide::LoopLevel level = function.schedule().compute_level();
  if (!level.lock().is_root())
    return true;
  auto hasGpuLoop = [](const Halide::Internal::StageSchedule &schedule) {
    for (const Halide::Internal::Dim &dim : schedule.dims())
      if (dim.for_type == Halide::Internal::ForType::GPUBlock)
        return true;
    return false;
  };
  if (!hasGpuLoop(function.definition().schedule()))
    return false;
  for (const Halide::Internal::Definition &update : function.updates())
    if (!hasGpuLoop(update.schedule()))
      return false;
  return true;
}

/// On a GPU, a Func stored by the schedules but left on the host would copy
/// its operands back to the host in the middle of a step.
void verifyNothingStoredOnHost(const ScheduleRequest &request,
                               const MachineModel &machine) {
  auto check = [&](const std::string &what, const Halide::Func &f) {
    if (f.defined() && !runsOnDevice(f))
      throw std::logic_error("the " + machine.name + " schedules left " + what +
                             " (" + f.name() + ") on the host");
  };
  for (const LoweredOp &op : request.ops) {
    const std::string what = std::string("a ") + opKindName(op.kind) + " op";
    for (const Halide::Func &f : {op.output.func, op.accum, op.padded})
      check(what, f);
    for (const Halide::Func &f : op.stored)
      check(what, f);
  }
  for (const LoweredGrad &g : request.grads) {
    const std::string what = std::string("a ") + gradKindName(g.kind) + " op";
    for (const Halide::Func &f : {g.output.func, g.accum})
      check(what, f);
    for (const Tensor &extra : g.extraOutputs)
      check(what, extra.func);
    for (const Halide::Func &f : g.stored)
      check(what, f);
  }
  for (const ChannelStats *stats : request.orphanStats)
    for (const Halide::Func &f :
         {stats->sum, stats->mean, stats->centred, stats->var})
      check("batch statistics", f);
}

} // namespace

bool readsFlattenInPlace(const std::vector<LoweredOp> &ops, size_t index,
                         const std::vector<fusion::Group> &groups,
                         const std::vector<Halide::Func> &pipelineOutputs,
                         const MachineModel &machine) {
  // Linear layers split their input features into vectors from 0: with
  // rows of whole vectors, Halide simplifies the flatten's f % W, f / W
  // away and they load the rows in place as densely as a copy (weight
  // gradients likewise). FeedForwardNet's flatten of a 3x32x32 image was
  // 13% of its forward pass at batch 64. On a GPU (one float lane) a
  // linear layer's thread reads the features in place, its f % W, f / W
  // divisions by constants, instead of a copy kernel.
  const LoweredOp &op = ops.at(index);
  const cnn::shape::Shape &in = op.inputs.at(0).shape;
  if (op.kind != OpKind::Flatten || in.size() != 4 ||
      in[3] % machine.floatLanes != 0)
    return false;
  const std::string name = op.output.func.name();
  for (const Halide::Func &f : pipelineOutputs)
    if (f.name() == name)
      return false;
  const bool alone =
      std::any_of(groups.begin(), groups.end(), [&](const fusion::Group &g) {
        return size_t(g.anchor) == index && g.chain.empty();
      });
  if (!alone)
    return false;
  bool read = false;
  for (const LoweredOp &reader : ops)
    for (const Tensor &input : reader.inputs)
      if (input.func.name() == name) {
        if (reader.kind != OpKind::Linear)
          return false;
        read = true;
      }
  return read;
}

void verifyEveryResultScheduled(const ScheduleRequest &request,
                                const MachineModel &machine) {
  std::vector<bool> inlinedByPlan(request.ops.size(), false);
  for (const fusion::Group &group : request.groups)
    for (size_t i = 0; i < group.chain.size(); ++i)
      inlinedByPlan.at(size_t(i == 0 ? group.anchor : group.chain[i - 1])) =
          true;
  auto stored = [](const Halide::Func &f) {
    // Scheduling is over: the level can be locked (Halide's lowering locks
    // it too) to be read.
    Halide::LoopLevel level = f.function().schedule().compute_level();
    return !level.lock().is_inlined();
  };
  auto fail = [&](const std::string &what, const Halide::Func &f) {
    throw std::logic_error("the " + machine.name + " schedules left " + what +
                           " (" + f.name() +
                           ") unscheduled: the backend has no schedule for it");
  };
  if (machine.gpu)
    verifyNothingStoredOnHost(request, machine);
  for (size_t i = 0; i < request.ops.size(); ++i)
    if (!inlinedByPlan[i] && !stored(request.ops[i].output.func) &&
        !readsFlattenInPlace(request.ops, i, request.groups, request.outputs,
                             machine))
      fail(std::string("a ") + opKindName(request.ops[i].kind) + " op",
           request.ops[i].output.func);
  const std::vector<std::optional<size_t>> fusedGrads =
      backwardFusion(request.grads, readOutsideGradients(request));
  for (size_t i = 0; i < request.grads.size(); ++i) {
    const LoweredGrad &g = request.grads[i];
    if (!stored(g.output.func) && !fusedGrads[i])
      fail(std::string("a ") + gradKindName(g.kind) + " op", g.output.func);
    for (const Tensor &extra : g.extraOutputs)
      if (!stored(extra.func))
        fail(std::string("an output of a ") + gradKindName(g.kind) + " op",
             extra.func);
  }
}

std::unique_ptr<Backend> selectBackend(const Halide::Target &target,
                                       std::string &error) {
  if (target.has_gpu_feature()) {
    std::optional<MachineModel> model = gpuMachineModel(target, error);
    if (!model)
      return nullptr;
    return std::make_unique<GpuBackend>(std::move(*model));
  }
  std::optional<MachineModel> model = cpuMachineModel(target, error);
  if (!model)
    return nullptr;
  return std::make_unique<CpuBackend>(std::move(*model));
}

} // namespace cnnc::hl
