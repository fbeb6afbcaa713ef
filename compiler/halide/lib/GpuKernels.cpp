#include "GpuKernels.h"

#include <string>

namespace cnnc::hl::gpu {

using Halide::Func;
using Halide::RVar;
using Halide::Stage;
using Halide::TailStrategy;
using Halide::Var;
using Halide::VarOrRVar;

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

std::vector<VarOrRVar> reductionVarsOf(const Func &f) {
  std::vector<VarOrRVar> vars;
  for (const Halide::Internal::ReductionVariable &rv :
       f.function().update(0).schedule().rvars())
    vars.push_back(RVar(rv.var.substr(rv.var.rfind('.') + 1)));
  return vars;
}

std::optional<PerElementLoops>
launchPerElement(Stage stage, std::vector<VarOrRVar> vars, int threads) {
  if (vars.empty()) {
    stage.gpu_single_thread();
    return std::nullopt;
  }
  // The same loop names for every kernel, so that two Funcs over the same
  // Vars get the same loops (compute_with matches loops by name); short,
  // as the names of the kernels grow with them (OpenCL compilers limit
  // their length).
  VarOrRVar all = vars.front();
  for (size_t i = 1; i < vars.size(); ++i) {
    Var fused("f" + std::to_string(i));
    stage.fuse(all, vars[i], fused);
    all = fused;
  }
  PerElementLoops loops{Var("b"), Var("t")};
  stage.gpu_tile(all, loops.block, loops.thread, threads,
                 TailStrategy::GuardWithIf);
  return loops;
}

std::optional<PerElementLoops> storeOnDevice(Func f, const GpuModel &gpu) {
  f.compute_root();
  const std::vector<Var> args = f.args();
  std::vector<VarOrRVar> pure(args.begin(), args.end());
  std::optional<PerElementLoops> loops =
      launchPerElement(f, std::move(pure), gpu.threadsPerBlock);
  for (int u = 0; u < f.num_update_definitions(); ++u)
    launchPerElement(f.update(u), pureVarsOfUpdate(f, u), gpu.threadsPerBlock);
  return loops;
}

void onLanes(Stage s, VarOrRVar v, const GpuModel &gpu) {
  if (gpu.api == GpuModel::Api::Cuda)
    s.gpu_lanes(v);
  else
    s.gpu_threads(v);
}

int largestDivisorAtMost(int64_t n, int limit) {
  for (int d = limit; d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

} // namespace cnnc::hl::gpu
