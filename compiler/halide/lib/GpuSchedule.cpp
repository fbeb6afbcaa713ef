#include "cnnc/halide/GpuSchedule.h"

#include <algorithm>
#include <stdexcept>

namespace cnnc::hl {

using Halide::Func;
using Halide::LoopLevel;
using Halide::RVar;
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

/// The loops of a kernel that runs one thread per element.
struct PerElementLoops {
  Var block, thread;
};

/// Runs `stage` as one kernel with a thread per point of `vars` (innermost
/// first), in blocks of `threads` (looped over `loops`); nothing for a stage
/// without pure Vars, which runs as a single thread.
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

/// Stores `f` and runs each of its stages on the device, one thread per
/// element; the loops of its pure stage (nothing for a result without
/// dimensions).
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

/// Computes `f` in the thread of `reader`'s kernel that reads it, in
/// registers. A reader without dimensions is a single thread whose
/// outermost loop is on the host: `f` is then a single thread of its own.
void computeInThread(Func f, const Func &reader,
                     const std::optional<PerElementLoops> &loops,
                     const GpuModel &gpu) {
  if (loops)
    f.compute_at(reader, loops->thread);
  else
    storeOnDevice(f, gpu);
}

/// The reduction variable of `sum`'s update to split the sum over, if it
/// sums over the run-time batch (a gradient of weights or per-channel
/// statistics: few results, each over N x rows x ...): the outermost
/// reduction variable of static extent > 1 (the rows), and its extent.
std::optional<std::pair<RVar, int>> rowsOfBatchReduction(const Func &sum) {
  const std::vector<Halide::Internal::ReductionVariable> rvars =
      sum.function().update(0).schedule().rvars();
  bool overBatch = false;
  std::optional<std::pair<RVar, int>> rows;
  for (const Halide::Internal::ReductionVariable &rv : rvars) {
    const int64_t *extent = Halide::Internal::as_const_int(rv.extent);
    if (!extent)
      overBatch = true;
    else if (*extent > 1)
      rows = std::make_pair(RVar(rv.var), int(*extent));
  }
  if (!overBatch)
    return std::nullopt;
  return rows;
}

/// Schedules `sum` (a pure initial value and one update, a reduction) to be
/// accumulated in registers by the thread of `reader`'s kernel that reads
/// it. A sum over the batch with fewer than gpu.partialSumThreads results
/// (weight gradients, batch statistics) is first split: partial sums over
/// parts of the rows, each part one thread of a kernel of its own, then
/// summed by the reader's thread in a fixed order, so the result is the
/// same on every launch (no atomics). `results` is the number of
/// elements of `sum`, when known.
void reduceInThread(Func sum, const Func &reader,
                    const std::optional<PerElementLoops> &thread,
                    std::optional<int64_t> results, const GpuModel &gpu) {
  if (auto rows = rowsOfBatchReduction(sum)) {
    const int64_t wanted =
        results ? (gpu.partialSumThreads + *results - 1) / *results
                : rows->second;
    const int parts = int(std::min<int64_t>(rows->second, wanted));
    if (parts > 1) {
      const int rowsPerPart = (rows->second + parts - 1) / parts;
      Var part("part");
      Stage update = sum.update();
      Func partial;
      if (rowsPerPart == 1) {
        partial = update.rfactor(rows->first, part);
      } else {
        RVar outer("ro"), inner("ri");
        update.split(rows->first, outer, inner, rowsPerPart,
                     TailStrategy::GuardWithIf);
        partial = update.rfactor(outer, part);
      }
      Func stored = partial.in();
      computeInThread(partial, stored, storeOnDevice(stored, gpu), gpu);
    }
  }
  computeInThread(sum, reader, thread, gpu);
}

/// Stores a reduction `f` (init + one update) with one kernel: each thread
/// accumulates its element in registers (see reduceInThread).
void storeReductionOnDevice(Func f, std::optional<int64_t> results,
                            const GpuModel &gpu) {
  Func stored = f.in();
  reduceInThread(f, stored, storeOnDevice(stored, gpu), results, gpu);
}

/// Stores `f` on the device: reductions accumulate in registers.
void storeAnyOnDevice(Func f, std::optional<int64_t> results,
                      const GpuModel &gpu) {
  if (f.num_update_definitions() == 1)
    storeReductionOnDevice(f, results, gpu);
  else
    storeOnDevice(f, gpu);
}

int64_t elementCount(const cnn::shape::Shape &shape) {
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  return count;
}

/// The largest divisor of `n` that is at most `limit`.
int largestDivisorAtMost(int64_t n, int limit) {
  for (int d = limit; d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

int powerOfTwoAtLeast(int64_t n, int limit) {
  int p = 1;
  while (p < n && p < limit)
    p *= 2;
  return p;
}

/// A convolution-like result `out` (x, y, c, n) of `shape` [N, C, H, W]
/// whose every element is a sum `accum` over (taps, channels): one kernel in
/// which each thread accumulates a register tile of up to gpu.channelTile
/// channels of one pixel (each input value it loads feeds the whole tile;
/// the weights are the same across the threads of a warp). The threads of a
/// block span a tile of pixels and, for small images, of channel tiles.
void storeChannelTiled(Func out, Func accum, const cnn::shape::Shape &shape,
                       const GpuModel &gpu) {
  const std::vector<Var> v = out.args();
  const Var x = v[0], y = v[1], c = v[2], n = v[3];
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  const int tile = largestDivisorAtMost(C, gpu.channelTile);
  const int tx = powerOfTwoAtLeast(W, 32);
  const int ty = powerOfTwoAtLeast(H, gpu.threadsPerBlock / tx);
  const int tc = powerOfTwoAtLeast(
      (C + tile - 1) / tile, std::max(1, gpu.threadsPerBlock / (tx * ty)));
  // Short loop names: kernel names grow with them.
  Var co("co"), ci("ci"), cb("cb"), ct("ct"), xo("xo"), xi("xi"), yo("yo"),
      yi("yi"), cn("cn");
  out.compute_root()
      .split(c, co, ci, tile, TailStrategy::GuardWithIf)
      .split(co, cb, ct, tc, TailStrategy::GuardWithIf)
      .split(x, xo, xi, tx, TailStrategy::GuardWithIf)
      .split(y, yo, yi, ty, TailStrategy::GuardWithIf)
      .reorder(ci, xi, yi, ct, xo, yo, cb, n)
      .fuse(cb, n, cn)
      .gpu_threads(xi, yi, ct)
      .gpu_blocks(xo, yo, cn)
      .unroll(ci);
  accum.compute_at(out, xi);
  const std::vector<Var> a = accum.args();
  accum.reorder(a[2], a[0], a[1], a[3]).unroll(a[2]);
  const Halide::Internal::Definition &update = accum.function().update(0);
  std::vector<VarOrRVar> order{a[2]};
  for (const Halide::Internal::ReductionVariable &rv :
       update.schedule().rvars())
    order.push_back(RVar(rv.var));
  for (const Var &pure : {a[0], a[1], a[3]})
    order.push_back(pure);
  Stage sums = accum.update();
  sums.reorder(order).unroll(a[2]);
  // A kernel row of taps per iteration, each tap an FMA into every channel.
  const Halide::Internal::ReductionVariable &kx = update.schedule().rvars()[0];
  if (const int64_t *k = Halide::Internal::as_const_int(kx.extent);
      k && *k <= 8)
    sums.unroll(RVar(kx.var));
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

/// The channels of the per-channel Funcs an op stores (batch norm's), from
/// its [N, C, H, W] result.
std::optional<int64_t> channelsOf(const cnn::shape::Shape &shape) {
  if (shape.size() == 4)
    return shape[1];
  return std::nullopt;
}

void scheduleGroup(std::vector<LoweredOp> &ops, const fusion::Group &group,
                   const GpuModel &gpu) {
  LoweredOp &anchor = ops.at(size_t(group.anchor));
  LoweredOp &stored = ops.at(size_t(group.stored()));
  if (&anchor != &stored)
    anchor.output.func.compute_inline();
  for (int member : group.chain) {
    LoweredOp &op = ops.at(size_t(member));
    if (&op != &stored)
      op.output.func.compute_inline();
  }
  // A padded input (a copy within a border) is its own kernel.
  if (anchor.padded.defined())
    storeOnDevice(anchor.padded, gpu);
  const bool statistics = statisticsReadAnchor(ops, group);
  if (anchor.kind == OpKind::Conv2d) {
    // With batch statistics, the convolution is stored (read twice); the
    // chain after it is then one thread per element.
    if (statistics) {
      storeChannelTiled(anchor.accum.in(), anchor.accum, anchor.output.shape,
                        gpu);
      storeOnDevice(stored.output.func, gpu);
    } else {
      storeChannelTiled(stored.output.func, anchor.accum, anchor.output.shape,
                        gpu);
    }
  } else {
    std::optional<PerElementLoops> thread =
        storeOnDevice(stored.output.func, gpu);
    if (anchor.accum.defined()) {
      if (statistics)
        storeReductionOnDevice(anchor.accum, std::nullopt, gpu);
      else
        computeInThread(anchor.accum, stored.output.func, thread, gpu);
    }
  }
  for (int member : group.chain) {
    LoweredOp &op = ops.at(size_t(member));
    for (Func &f : op.stored)
      storeAnyOnDevice(f, channelsOf(op.output.shape), gpu);
  }
  for (Func &f : anchor.stored)
    storeAnyOnDevice(f, channelsOf(anchor.output.shape), gpu);
}

/// An SGD step's new parameters and new momentum (same shape, same
/// operands) in one kernel: each thread writes both for its element.
void storeWithVelocity(Func param, Func velocity, const GpuModel &gpu) {
  std::optional<PerElementLoops> loops = storeOnDevice(param, gpu);
  std::optional<PerElementLoops> own = storeOnDevice(velocity, gpu);
  if (loops && own)
    velocity.compute_with(param, loops->block);
}

void scheduleGrad(LoweredGrad &g, const GpuModel &gpu) {
  if (g.kind == GradKind::Conv2dInputGrad)
    storeChannelTiled(g.output.func, g.accum, g.output.shape, gpu);
  else if (g.accum.defined())
    reduceInThread(g.accum, g.output.func, storeOnDevice(g.output.func, gpu),
                   elementCount(g.output.shape), gpu);
  else if (g.kind == GradKind::SgdUpdate && !g.extraOutputs.empty())
    storeWithVelocity(g.output.func, g.extraOutputs.front().func, gpu);
  else
    storeOnDevice(g.output.func, gpu);
  for (Tensor &extra : g.extraOutputs)
    if (g.kind != GradKind::SgdUpdate)
      storeOnDevice(extra.func, gpu);
  for (Func &f : g.stored)
    storeAnyOnDevice(f, std::nullopt, gpu);
}

} // namespace

void applyGpuSchedule(const ScheduleRequest &request,
                      const MachineModel &machine) {
  if (!machine.gpu)
    throw std::invalid_argument("GPU schedule for " + machine.name +
                                ", which is not a GPU");
  const GpuModel &gpu = *machine.gpu;
  for (const fusion::Group &group : request.groups)
    scheduleGroup(request.ops, group, gpu);
  for (LoweredGrad &g : request.grads)
    scheduleGrad(g, gpu);
  for (const ChannelStats *stats : request.orphanStats)
    for (Func f : {stats->sum, stats->centred, stats->mean, stats->var})
      storeAnyOnDevice(f, std::nullopt, gpu);
}

} // namespace cnnc::hl
