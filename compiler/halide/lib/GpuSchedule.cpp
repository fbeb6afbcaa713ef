#include "cnnc/halide/GpuSchedule.h"

#include <stdexcept>

namespace cnnc::hl {

using Halide::Func;
using Halide::LoopLevel;
using Halide::Stage;
using Halide::TailStrategy;
using Halide::Var;
using Halide::VarOrRVar;

namespace {

/// The pure Vars of update `index` of `f` (its left-hand side arguments
/// that are the Func's own Vars), innermost first.
std::vector<VarOrRVar> pureVarsOfUpdate(const Func &f, int index) {
  std::vector<VarOrRVar> vars;
  const std::vector<Var> pure = f.args();
  for (const Halide::Expr &arg : f.update_args(index)) {
    const auto *v = arg.as<Halide::Internal::Variable>();
    if (!v || v->reduction_domain.defined())
      continue;
    for (const Var &p : pure)
      if (p.name() == v->name)
        vars.push_back(p);
  }
  return vars;
}

/// Runs `stage` as one kernel with a thread per point of `vars` (innermost
/// first), in blocks of `threads`; the thread Var, or nothing for a stage
/// without pure Vars, which runs as a single thread.
std::optional<Var> launchPerElement(Stage stage, std::vector<VarOrRVar> vars,
                                    int threads) {
  if (vars.empty()) {
    stage.gpu_single_thread();
    return std::nullopt;
  }
  VarOrRVar all = vars.front();
  for (size_t i = 1; i < vars.size(); ++i) {
    Var fused;
    stage.fuse(all, vars[i], fused);
    all = fused;
  }
  Var block, thread;
  stage.gpu_tile(all, block, thread, threads, TailStrategy::GuardWithIf);
  return thread;
}

/// Stores `f` and runs each of its stages on the device, one thread per
/// element; the thread Var of its pure stage (nothing for a result without
/// dimensions).
std::optional<Var> storeOnDevice(Func f, const GpuModel &gpu) {
  f.compute_root();
  const std::vector<Var> args = f.args();
  std::vector<VarOrRVar> pure(args.begin(), args.end());
  std::optional<Var> thread =
      launchPerElement(f, std::move(pure), gpu.threadsPerBlock);
  for (int u = 0; u < f.num_update_definitions(); ++u)
    launchPerElement(f.update(u), pureVarsOfUpdate(f, u), gpu.threadsPerBlock);
  return thread;
}

/// Computes `f` (a reduction) in the thread that reads it, in registers.
void computeInThread(Func f, const Func &reader,
                     const std::optional<Var> &thread) {
  if (thread)
    f.compute_at(reader, *thread);
  else
    f.compute_at(LoopLevel(reader, Var::outermost()));
}

/// A batch norm in training mode reads its input (the anchor's result, not
/// stored) in its statistics' reductions as well as per element.
bool statisticsReadAnchor(const std::vector<LoweredOp> &ops,
                          const fusion::Group &group) {
  for (int member : group.chain)
    for (const Func &f : ops.at(size_t(member)).stored)
      if (f.has_update_definition())
        return true;
  return false;
}

} // namespace

void applyGpuSchedule(const ScheduleRequest &request,
                      const MachineModel &machine) {
  if (!machine.gpu)
    throw std::invalid_argument("GPU schedule for " + machine.name +
                                ", which is not a GPU");
  const GpuModel &gpu = *machine.gpu;
  std::vector<LoweredOp> &ops = request.ops;

  for (const fusion::Group &group : request.groups) {
    LoweredOp &anchor = ops.at(size_t(group.anchor));
    LoweredOp &stored = ops.at(size_t(group.stored()));
    if (&anchor != &stored)
      anchor.output.func.compute_inline();
    for (int member : group.chain) {
      LoweredOp &op = ops.at(size_t(member));
      if (&op != &stored)
        op.output.func.compute_inline();
    }
    // A padded input (a copy into a zeroed plane) is its own kernel.
    if (anchor.padded.defined())
      storeOnDevice(anchor.padded, gpu);
    std::optional<Var> thread = storeOnDevice(stored.output.func, gpu);
    if (anchor.accum.defined()) {
      if (statisticsReadAnchor(ops, group))
        storeOnDevice(anchor.accum, gpu);
      else
        computeInThread(anchor.accum, stored.output.func, thread);
    }
    for (int member : group.chain)
      for (Func &f : ops.at(size_t(member)).stored)
        storeOnDevice(f, gpu);
    for (Func &f : anchor.stored)
      storeOnDevice(f, gpu);
  }

  for (LoweredGrad &g : request.grads) {
    storeOnDevice(g.output.func, gpu);
    for (Tensor &extra : g.extraOutputs)
      storeOnDevice(extra.func, gpu);
    if (g.accum.defined())
      storeOnDevice(g.accum, gpu);
    for (Func &f : g.stored)
      storeOnDevice(f, gpu);
  }

  for (const ChannelStats *stats : request.orphanStats)
    for (Func f : {stats->sum, stats->mean, stats->centred, stats->var})
      storeOnDevice(f, gpu);
}

} // namespace cnnc::hl
