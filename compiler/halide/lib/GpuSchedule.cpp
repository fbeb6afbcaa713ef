#include "cnnc/halide/GpuSchedule.h"

#include "cnnc/halide/GradientSchedule.h"

#include "GpuConvolution.h"
#include "GpuKernels.h"
#include "GpuWeightGradient.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace cnnc::hl {

using Halide::Func;
using Halide::LoopLevel;
using Halide::RVar;
using Halide::Stage;
using Halide::TailStrategy;
using Halide::Var;
using Halide::VarOrRVar;
using namespace gpu;

namespace {

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

/// Pure Vars of a sum that one thread computes together, with how many of
/// each: the thread's accumulators, each value it loads feeding several of
/// them (a conv weight gradient's taps along x and a block of output
/// channels).
using RegisterTile = std::vector<std::pair<Var, int>>;

/// Stores `f` with one kernel whose threads each compute `tile`'s elements
/// of it (unrolled), a thread per point of its other Vars; the kernel's
/// loops.
std::optional<PerElementLoops>
storeTiledOnDevice(Func f, const RegisterTile &tile, const GpuModel &gpu) {
  f.compute_root();
  std::vector<VarOrRVar> order, outer;
  for (const Var &v : f.args()) {
    auto it = std::find_if(tile.begin(), tile.end(), [&](const auto &t) {
      return t.first.name() == v.name();
    });
    if (it == tile.end()) {
      outer.push_back(v);
      continue;
    }
    // Short names: kernel names grow with them.
    const std::string index = std::to_string(it - tile.begin());
    Var vo("to" + index), vi("ti" + index);
    f.split(v, vo, vi, it->second, TailStrategy::GuardWithIf).unroll(vi);
    order.push_back(vi);
    outer.push_back(vo);
  }
  order.insert(order.end(), outer.begin(), outer.end());
  f.reorder(order);
  return launchPerElement(f, std::move(outer), gpu.threadsPerBlock);
}

/// Computes the reduction `sum` in the thread of `reader`'s kernel (stored
/// by storeTiledOnDevice with `tile`) for the tile's elements: its tile
/// Vars unrolled innermost, inside the reduction's loops.
void reduceTileInThread(Func sum, const Func &reader,
                        const std::optional<PerElementLoops> &loops,
                        const RegisterTile &tile, const GpuModel &gpu) {
  if (!loops) {
    storeOnDevice(sum, gpu);
    return;
  }
  sum.compute_at(reader, loops->thread);
  std::vector<VarOrRVar> pure, order;
  for (const auto &[v, extent] : tile) {
    pure.push_back(v);
    order.push_back(v);
    sum.unroll(v);
  }
  for (const Var &v : sum.args())
    if (std::none_of(tile.begin(), tile.end(),
                     [&](const auto &t) { return t.first.name() == v.name(); }))
      pure.push_back(v);
  sum.reorder(pure);
  for (const VarOrRVar &v : reductionVarsOf(sum))
    order.push_back(v);
  for (const VarOrRVar &v : pureVarsOfUpdate(sum, 0))
    if (std::none_of(tile.begin(), tile.end(),
                     [&](const auto &t) { return t.first.name() == v.name(); }))
      order.push_back(v);
  Stage update = sum.update();
  update.reorder(order);
  for (const auto &[v, extent] : tile)
    update.unroll(v);
}

int64_t tileElements(const RegisterTile &tile) {
  int64_t elements = 1;
  for (const auto &[v, extent] : tile)
    elements *= extent;
  return elements;
}

/// Schedules `sum` (a pure initial value and one update, a reduction) to be
/// accumulated in registers by the thread of `reader`'s kernel that reads
/// it. A sum over the batch with fewer than gpu.partialSumThreads results
/// (weight gradients, batch statistics) is first split: partial sums over
/// parts of the rows, each part one thread of a kernel of its own (each
/// thread `tile`'s elements of a part, where given), then summed by the
/// reader's thread in a fixed order, so the result is the same on every
/// launch (no atomics). `results` is the number of elements of `sum`, when
/// known.
void reduceInThread(Func sum, const Func &reader,
                    const std::optional<PerElementLoops> &thread,
                    std::optional<int64_t> results, const GpuModel &gpu,
                    const RegisterTile &tile = {}) {
  if (auto rows = rowsOfBatchReduction(sum)) {
    // Threads of the partial sums' kernel per part.
    const int64_t perPart =
        results ? std::max<int64_t>(1, *results / tileElements(tile)) : 1;
    const int64_t wanted = results
                               ? (gpu.partialSumThreads + perPart - 1) / perPart
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
      if (tile.empty())
        computeInThread(partial, stored, storeOnDevice(stored, gpu), gpu);
      else
        reduceTileInThread(partial, stored,
                           storeTiledOnDevice(stored, tile, gpu), tile, gpu);
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

/// Whether `reader`'s definition calls `callee`.
bool calls(const Func &reader, const Func &callee) {
  return Halide::Internal::find_direct_calls(reader.function())
      .count(callee.name());
}

/// Stores `fs` on the device (storeAnyOnDevice), but a reduction that one
/// Func of `fs` without an update reads, and no other of `fs` (batch
/// statistics' sums, read by their mean and variance; a batch norm
/// gradient's), is summed in that reader's threads: one kernel fewer (two
/// where its sum is split, whose parts the reader then adds).
void storeAllOnDevice(const std::vector<Func> &fs,
                      std::optional<int64_t> results, const GpuModel &gpu) {
  std::map<std::string, std::vector<Func>> summedIn;
  std::set<std::string> inReader;
  for (const Func &r : fs) {
    if (r.num_update_definitions() != 1)
      continue;
    std::vector<const Func *> readers;
    for (const Func &f : fs)
      if (f.name() != r.name() && calls(f, r))
        readers.push_back(&f);
    if (readers.size() == 1 && !readers.front()->has_update_definition()) {
      summedIn[readers.front()->name()].push_back(r);
      inReader.insert(r.name());
    }
  }
  for (const Func &f : fs) {
    if (inReader.count(f.name()))
      continue;
    auto sums = summedIn.find(f.name());
    if (sums == summedIn.end()) {
      storeAnyOnDevice(f, results, gpu);
      continue;
    }
    const std::optional<PerElementLoops> loops = storeOnDevice(f, gpu);
    for (Func &sum : sums->second)
      reduceInThread(sum, f, loops, results, gpu);
  }
}

int64_t elementCount(const cnn::shape::Shape &shape) {
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  return count;
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

/// Inlines the results of `group`'s ops in their readers, but for the one
/// it stores.
void inlineAllButStored(std::vector<LoweredOp> &ops,
                        const fusion::Group &group) {
  LoweredOp &anchor = ops.at(size_t(group.anchor));
  LoweredOp &stored = ops.at(size_t(group.stored()));
  if (&anchor != &stored)
    anchor.output.func.compute_inline();
  for (int member : group.chain) {
    LoweredOp &op = ops.at(size_t(member));
    if (&op != &stored)
      op.output.func.compute_inline();
  }
}

/// Stores the small intermediates of `group`'s ops (batch norm's scale and
/// shift, its statistics) on the device.
void storeIntermediatesOf(std::vector<LoweredOp> &ops,
                          const fusion::Group &group, const GpuModel &gpu) {
  for (int member : group.chain) {
    LoweredOp &op = ops.at(size_t(member));
    storeAllOnDevice(op.stored, channelsOf(op.output.shape), gpu);
  }
  LoweredOp &anchor = ops.at(size_t(group.anchor));
  storeAllOnDevice(anchor.stored, channelsOf(anchor.output.shape), gpu);
}

void scheduleGroup(std::vector<LoweredOp> &ops, const fusion::Group &group,
                   const GpuModel &gpu) {
  LoweredOp &anchor = ops.at(size_t(group.anchor));
  LoweredOp &stored = ops.at(size_t(group.stored()));
  inlineAllButStored(ops, group);
  const bool statistics = statisticsReadAnchor(ops, group);
  if (anchor.kind == OpKind::Conv2d) {
    // With batch statistics, the convolution is stored (read twice); the
    // chain after it is then one thread per element.
    const Func source =
        anchor.padded.defined() ? anchor.padded : anchor.inputs.at(0).func;
    const bool staged = storeConvolution(
        statistics ? anchor.accum.in() : stored.output.func, anchor.accum,
        source, anchor.rdom, anchor.vars[2], anchor.output.shape, gpu);
    // A padded input (the input within a border of zeros) is its own kernel,
    // unless the convolution stages it: then the staging pads as it loads.
    if (anchor.padded.defined() && !staged)
      storeOnDevice(anchor.padded, gpu);
    if (statistics)
      storeOnDevice(stored.output.func, gpu);
  } else {
    // A padded pool input (the input within a border of the padding
    // value) is its own kernel.
    if (anchor.padded.defined())
      storeOnDevice(anchor.padded, gpu);
    std::optional<PerElementLoops> thread =
        storeOnDevice(stored.output.func, gpu);
    if (anchor.accum.defined()) {
      if (statistics)
        storeReductionOnDevice(anchor.accum, std::nullopt, gpu);
      else
        computeInThread(anchor.accum, stored.output.func, thread, gpu);
    }
  }
  storeIntermediatesOf(ops, group, gpu);
}

/// The conv group computed in each pool group's kernel, by the pool
/// group's index: the fusion plan's computedInside (an unpadded convolution
/// read only by an unpadded pool) where the pool's windows do not overlap
/// (no convolution output is computed twice) and fit a thread's
/// accumulators, and no batch statistics read the convolution.
std::map<size_t, size_t>
convsInsidePools(const std::vector<LoweredOp> &ops,
                 const std::vector<fusion::Group> &groups,
                 const GpuModel &gpu) {
  std::map<size_t, size_t> inside;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!groups[g].computedInside)
      continue;
    const size_t p = size_t(*groups[g].computedInside);
    const LoweredOp &conv = ops.at(size_t(groups[g].anchor));
    const LoweredOp &pool = ops.at(size_t(groups[p].anchor));
    if (conv.kind != OpKind::Conv2d || !pool.accum.defined() ||
        statisticsReadAnchor(ops, groups[g]))
      continue;
    const std::string read =
        ops.at(size_t(groups[g].stored())).output.func.name();
    const std::optional<int64_t> one =
        elementsRead(pool.accum, read, {1, 1, 1, 1}, {});
    const std::optional<int64_t> four =
        elementsRead(pool.accum, read, {2, 2, 1, 1}, {});
    // A window of more pixels than a thread's accumulators stays apart.
    if (one && four && *four == 4 * *one && *one <= gpu.accumulatorsPerThread)
      inside[p] = g;
  }
  return inside;
}

/// A pool group and the conv group it reads (convsInsidePools) as one
/// kernel over the pool's result: each thread computes a tile of channels
/// of one pooled pixel, and first the convolution over its window for those
/// channels (the conv's chain applied), accumulated in registers: a
/// register tile of window x channels, each input value loaded feeding the
/// tile's channels. The convolution's result is never stored.
void storePoolOverConv(std::vector<LoweredOp> &ops, const fusion::Group &pool,
                       const fusion::Group &conv, const GpuModel &gpu) {
  inlineAllButStored(ops, pool);
  inlineAllButStored(ops, conv);
  LoweredOp &poolAnchor = ops.at(size_t(pool.anchor));
  LoweredOp &convAnchor = ops.at(size_t(conv.anchor));
  Func out = ops.at(size_t(pool.stored())).output.func;
  Func read = ops.at(size_t(conv.stored())).output.func;
  const int64_t window =
      elementsRead(poolAnchor.accum, read.name(), {1, 1, 1, 1}, {}).value();
  // The window's pixels times the channels make the register tile.
  const ChannelTiling t = channelTiling(
      ops.at(size_t(pool.stored())).output.shape, gpu,
      int(std::max<int64_t>(1, gpu.accumulatorsPerThread / window)),
      /*manyRows=*/false);
  const TileLoops l = launchTiles(out, t);
  out.gpu_threads(l.xi, l.yi, l.ct);
  // The pool's reduction, its window unrolled.
  Func poolSum = poolAnchor.accum;
  const std::vector<Var> p = poolSum.args();
  poolSum.compute_at(out, l.xi).reorder(p[2], p[0], p[1], p[3]).unroll(p[2]);
  std::vector<VarOrRVar> poolOrder{p[2]};
  for (const VarOrRVar &v : reductionVarsOf(poolSum))
    poolOrder.push_back(v);
  Stage poolTaps = poolSum.update();
  poolTaps.reorder(poolOrder).unroll(p[2]);
  for (size_t i = 1; i < poolOrder.size(); ++i)
    poolTaps.unroll(poolOrder[i]);
  // The convolution over the window, every (pixel, channel) an accumulator
  // of the thread, before and after the chain.
  auto inThreadUnrolled = [&](Func f) {
    const std::vector<Var> v = f.args();
    f.compute_at(out, l.xi)
        .reorder(v[2], v[0], v[1], v[3])
        .unroll(v[2])
        .unroll(v[0])
        .unroll(v[1]);
  };
  inThreadUnrolled(read);
  Func sum = convAnchor.accum;
  inThreadUnrolled(sum);
  const std::vector<Var> a = sum.args();
  std::vector<VarOrRVar> order{a[2], a[0], a[1]};
  for (const VarOrRVar &v : reductionVarsOf(sum))
    order.push_back(v);
  order.push_back(a[3]);
  Stage taps = sum.update();
  taps.reorder(order).unroll(a[2]).unroll(a[0]).unroll(a[1]);
  unrollTaps(taps, sum);
  storeIntermediatesOf(ops, conv, gpu);
  storeIntermediatesOf(ops, pool, gpu);
}

/// An SGD step's new parameters and new momentum, or a running-statistics
/// update's new mean and variance (same shape, same operands), in one
/// kernel: each thread writes both for its element.
void storeWithVelocity(Func param, Func velocity, const GpuModel &gpu) {
  std::optional<PerElementLoops> loops = storeOnDevice(param, gpu);
  std::optional<PerElementLoops> own = storeOnDevice(velocity, gpu);
  if (loops && own)
    velocity.compute_with(param, loops->block);
}

/// Whether `g` stores its extra output with its output (storeWithVelocity).
bool withExtraOutput(const LoweredGrad &g) {
  return (g.kind == GradKind::SgdUpdate ||
          g.kind == GradKind::BatchNorm2dStatsUpdate) &&
         g.extraOutputs.size() == 1;
}

/// A conv weight gradient's register tile (RegisterTile): all taps along x
/// (up to 8) and a block of output channels of one group, up to
/// gpu.accumulatorsPerThread accumulators; each input value a thread
/// loads feeds a tap of every channel, each gradient value every tap. The
/// tile leaves the partial sums' kernel at least a quarter of the threads
/// it would have without one (up to gpu.partialSumThreads): a small
/// gradient (LeNet's) keeps its parallelism.
RegisterTile weightGradTile(const LoweredGrad &g, const GpuModel &gpu) {
  const int64_t O = g.output.shape[0], kW = g.output.shape[3];
  const int64_t groups = g.inputs.at(0).shape[1] / g.output.shape[1];
  const std::optional<std::pair<RVar, int>> rows =
      rowsOfBatchReduction(g.accum);
  if (!rows)
    return {};
  const int64_t untiled = elementCount(g.output.shape) * rows->second;
  const int64_t maxElements =
      std::min<int64_t>(gpu.accumulatorsPerThread,
                        4 * untiled / std::min(untiled, gpu.partialSumThreads));
  RegisterTile tile;
  int64_t taps = 1;
  if (kW <= 8 && kW <= maxElements) {
    tile.emplace_back(g.vars[0], int(kW));
    taps = kW;
  }
  const int channels = largestDivisorAtMost(
      O / groups,
      int(std::max<int64_t>(
          1, std::min<int64_t>(gpu.channelTile, maxElements / taps))));
  if (channels > 1)
    tile.emplace_back(g.vars[3], channels);
  return tile;
}

/// A conv weight gradient's sum `g.accum`, computed in the thread of
/// `reader`'s kernel: its partial sums warp-tiled where that applies
/// (reduceWeightGradInWarps), else split by reduceInThread with a
/// weightGradTile; and its stored input (the padded input: a GPU library's
/// weight gradients sum whole rows, never the input by phase), which the
/// warps read through their staged rows instead.
void reduceConvWeightGrad(LoweredGrad &g, const Func &reader,
                          const std::optional<PerElementLoops> &loops,
                          const GpuModel &gpu) {
  const Func source = g.stored.empty() ? g.inputs.at(0).func : g.stored.at(0);
  const int groups = int(g.inputs.at(0).shape.at(1) / g.output.shape.at(1));
  if (reduceWeightGradInWarps(g.accum, source, g.inputs.at(1).func,
                              g.output.shape, groups, gpu)) {
    computeInThread(g.accum, reader, loops, gpu);
    return;
  }
  reduceInThread(g.accum, reader, loops, elementCount(g.output.shape), gpu,
                 weightGradTile(g, gpu));
  storeAllOnDevice(g.stored, std::nullopt, gpu);
}

/// The threads of an SGD step that computes its weight gradient
/// (scheduleGradWithUpdate), per dimension of the weights, innermost first:
/// along the innermost dimensions of extent > 1, each whole (at most three,
/// gpu.threadsPerBlock threads in all; the last one split by the largest
/// divisor of its extent that fits), 0 (blocks) for the rest; dimensions of
/// extent 1 are loops of one iteration inside the thread. Nothing where no
/// dimension has threads (every extent 1, or the innermost of extent > 1
/// without a divisor from 2 to gpu.threadsPerBlock), where the blocks would
/// need more than three
/// dimensions or more than CUDA's 65,535 along y or z, or where blocks of
/// fewer than 32 threads would cover more than 32,768 weights.
std::optional<std::vector<int64_t>>
updateThreads(const cnn::shape::Shape &shape, const GpuModel &gpu) {
  const size_t rank = shape.size();
  std::vector<int64_t> threads(rank, 0);
  std::vector<int64_t> blocks; // the grid's extents, x first
  int64_t all = 1;
  int threadDims = 0;
  bool full = false; // no more thread dimensions
  for (size_t d = 0; d < rank; ++d) {
    const int64_t extent = shape[rank - 1 - d];
    if (extent == 1) {
      threads[d] = 1;
      continue;
    }
    const int64_t along =
        full || threadDims == 3
            ? 1
            : largestDivisorAtMost(extent, int(gpu.threadsPerBlock / all));
    if (along == 1) {
      full = true;
      blocks.push_back(extent);
      continue;
    }
    threads[d] = along;
    all *= along;
    ++threadDims;
    if (along < extent) {
      full = true;
      blocks.push_back(extent / along); // its outer part
    }
  }
  // CUDA's grid: at most 65,535 blocks along y and z.
  const bool gridFits =
      blocks.size() <= 3 &&
      std::all_of(blocks.begin() + std::min<size_t>(1, blocks.size()),
                  blocks.end(), [](int64_t b) { return b <= 65535; });
  // Blocks of at least a warp, unless the weights are few (at most 128
  // full blocks' worth, 32,768): then a launch saved outweighs idle lanes.
  const int64_t weights = elementCount(shape);
  if (threadDims == 0 || !gridFits ||
      (all < 32 && weights > 128 * gpu.threadsPerBlock))
    return std::nullopt;
  return threads;
}

/// Runs `f` (an SGD step's result, `vars` innermost first) with the threads
/// `threads` (updateThreads): no dimension fused and no tail, so that a
/// thread's element is a single point to Halide's bounds inference, in
/// this result and in another computed with it (a fused dimension's
/// decomposition, or a guarded tail, widens what a fused stage's producer
/// computes per thread to a whole row of the weights). Returns the loops:
/// the innermost thread loop is where the gradient goes.
PerElementLoops launchUpdate(Func f, const std::vector<Var> &vars,
                             const cnn::shape::Shape &shape,
                             const std::vector<int64_t> &threads) {
  const size_t rank = shape.size();
  for (size_t d = 0; d < rank; ++d)
    f.bound(vars[d], 0, int(shape[rank - 1 - d]));
  f.compute_root();
  std::vector<Var> inside, threadVars, blockVars;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t extent = shape[rank - 1 - d];
    if (extent == 1)
      inside.push_back(vars[d]);
    else if (threads[d] == 0)
      blockVars.push_back(vars[d]);
    else if (threads[d] == extent)
      threadVars.push_back(vars[d]);
    else {
      Var outer("uo" + std::to_string(d)), inner("ui" + std::to_string(d));
      f.split(vars[d], outer, inner, int(threads[d]),
              TailStrategy::GuardWithIf);
      threadVars.push_back(inner);
      blockVars.push_back(outer);
    }
  }
  if (blockVars.empty()) { // one block: a loop of one iteration above
    Var block("ub");
    f.split(Var::outermost(), Var::outermost(), block, 1);
    blockVars.push_back(block);
  }
  std::vector<VarOrRVar> order(inside.begin(), inside.end());
  order.insert(order.end(), threadVars.begin(), threadVars.end());
  order.insert(order.end(), blockVars.begin(), blockVars.end());
  f.reorder(order);
  auto apply = [](const std::vector<Var> &v, auto &&one, auto &&two,
                  auto &&three) {
    if (v.size() == 1)
      one(v[0]);
    else if (v.size() == 2)
      two(v[0], v[1]);
    else
      three(v[0], v[1], v[2]);
  };
  apply(
      threadVars, [&](Var a) { f.gpu_threads(a); },
      [&](Var a, Var b) { f.gpu_threads(a, b); },
      [&](Var a, Var b, Var c) { f.gpu_threads(a, b, c); });
  apply(
      blockVars, [&](Var a) { f.gpu_blocks(a); },
      [&](Var a, Var b) { f.gpu_blocks(a, b); },
      [&](Var a, Var b, Var c) { f.gpu_blocks(a, b, c); });
  return {blockVars.back(), threadVars.front()};
}

/// A weight gradient read only by its SGD step (`update`), computed in the
/// step's kernel: each thread sums its weight's gradient in registers (the
/// partial sums, if any, in a kernel before) and writes the new weight and
/// its new momentum, the two computed with each other in the same loops.
void scheduleGradWithUpdate(LoweredGrad &g, LoweredGrad &update,
                            const std::vector<int64_t> &threads,
                            const GpuModel &gpu) {
  Func param = update.output.func;
  const PerElementLoops loops =
      launchUpdate(param, update.vars, update.output.shape, threads);
  for (Tensor &extra : update.extraOutputs) {
    launchUpdate(extra.func, update.vars, extra.shape, threads);
    extra.func.compute_with(param, loops.thread);
  }
  computeInThread(g.output.func, param, loops, gpu);
  if (g.kind == GradKind::Conv2dWeightGrad) {
    reduceConvWeightGrad(g, param, loops, gpu);
    return;
  }
  reduceInThread(g.accum, param, loops, elementCount(g.output.shape), gpu);
  storeAllOnDevice(g.stored, std::nullopt, gpu);
}

/// Runs `f` (without dimensions) as one kernel of a single thread; the
/// thread's loop, where its producers go to run in that thread.
LoopLevel storeSingleThread(Func f) {
  Var block("sb"), thread("st");
  f.compute_root()
      .split(Var::outermost(), Var::outermost(), block, 1)
      .split(block, block, thread, 1)
      .gpu_blocks(block)
      .gpu_threads(thread);
  return LoopLevel(f, thread);
}

/// Softmax cross-entropy, the loss: a kernel of a thread per sample (its
/// max and sum of exponentials in registers), then one thread for the mean
/// over the batch (the sum in the fixed order of the samples). Its gradient:
/// a thread per logit, which recomputes its sample's max and sum of
/// exponentials for few classes (gpu.recomputedSoftmaxClasses) instead of
/// storing them with two kernels more.
void scheduleCrossEntropy(LoweredGrad &g, const GpuModel &gpu) {
  Func rowMax = g.stored.at(0), sumExp = g.stored.at(1);
  if (g.kind == GradKind::SoftmaxCrossEntropy) {
    Func perSample = g.stored.at(2);
    const std::optional<PerElementLoops> loops = storeOnDevice(perSample, gpu);
    computeInThread(rowMax, perSample, loops, gpu);
    computeInThread(sumExp, perSample, loops, gpu);
    g.accum.compute_at(storeSingleThread(g.output.func));
    return;
  }
  const std::optional<PerElementLoops> loops =
      storeOnDevice(g.output.func, gpu);
  const bool recompute = g.output.shape.at(1) <= gpu.recomputedSoftmaxClasses;
  for (Func f : {rowMax, sumExp})
    if (recompute)
      computeInThread(f, g.output.func, loops, gpu);
    else
      storeAnyOnDevice(f, std::nullopt, gpu);
}

void scheduleGrad(LoweredGrad &g, const GpuModel &gpu) {
  if (g.kind == GradKind::SoftmaxCrossEntropy ||
      g.kind == GradKind::SoftmaxCrossEntropyGrad) {
    scheduleCrossEntropy(g, gpu);
    return;
  }
  if (g.kind == GradKind::Conv2dInputGrad) {
    // dy within its zero border (stored[0]) staged as the forward pass
    // stages its padded input: padded as the tile loads, no kernel of its
    // own; stored where not staged.
    const Func dyPadded = g.stored.at(0);
    if (!storeConvolution(g.output.func, g.accum, dyPadded, g.rdom, g.vars[2],
                          g.output.shape, gpu))
      storeOnDevice(dyPadded, gpu);
    return;
  }
  if (g.kind == GradKind::Conv2dWeightGrad) {
    reduceConvWeightGrad(g, g.output.func, storeOnDevice(g.output.func, gpu),
                         gpu);
    return;
  }
  if (g.accum.defined())
    reduceInThread(g.accum, g.output.func, storeOnDevice(g.output.func, gpu),
                   elementCount(g.output.shape), gpu);
  else if (withExtraOutput(g))
    storeWithVelocity(g.output.func, g.extraOutputs.front().func, gpu);
  else
    storeOnDevice(g.output.func, gpu);
  if (!withExtraOutput(g))
    for (Tensor &extra : g.extraOutputs)
      storeOnDevice(extra.func, gpu);
  storeAllOnDevice(g.stored, std::nullopt, gpu);
}

} // namespace

void applyGpuSchedule(const ScheduleRequest &request,
                      const MachineModel &machine) {
  if (!machine.gpu)
    throw std::invalid_argument("GPU schedule for " + machine.name +
                                ", which is not a GPU");
  const GpuModel &gpu = *machine.gpu;
  const std::map<size_t, size_t> inside =
      convsInsidePools(request.ops, request.groups, gpu);
  std::set<size_t> computedInPools;
  for (const auto &[pool, conv] : inside)
    computedInPools.insert(conv);
  for (size_t g = 0; g < request.groups.size(); ++g) {
    if (computedInPools.count(g))
      continue; // with its pool
    const size_t anchor = size_t(request.groups[g].anchor);
    if (readsFlattenInPlace(request.ops, anchor, request.groups,
                            request.outputs, machine)) {
      request.ops[anchor].output.func.compute_inline();
      continue;
    }
    if (auto it = inside.find(g); it != inside.end())
      storePoolOverConv(request.ops, request.groups[g],
                        request.groups.at(it->second), gpu);
    else
      scheduleGroup(request.ops, request.groups[g], gpu);
  }
  // Weight gradients computed in their SGD steps' kernels.
  const std::vector<Func> readElsewhere = readOutsideGradients(request);
  auto readOutside = [&](const Func &f) {
    return std::any_of(readElsewhere.begin(), readElsewhere.end(),
                       [&](const Func &r) { return r.name() == f.name(); });
  };
  std::set<size_t> withTheirGradient;
  for (size_t g = 0; g < request.grads.size(); ++g) {
    const std::optional<size_t> u = request.updateOf.at(g);
    if (!u || readOutside(request.grads[g].output.func))
      continue;
    LoweredGrad &update = request.grads.at(*u);
    if (std::optional<std::vector<int64_t>> threads =
            updateThreads(update.output.shape, gpu)) {
      scheduleGradWithUpdate(request.grads[g], update, *threads, gpu);
      withTheirGradient.insert(g);
      withTheirGradient.insert(*u);
    }
  }
  // Backward fusion, as on the CPU (backwardFusion): a gradient without a
  // reduction (a flatten's, a tiling max pool's, a broadcast) is inlined in
  // its readers, its stored parts (the max pool's winners) stored; a
  // linear layer's input gradient is summed in the threads of the one
  // element-wise gradient that reads it.
  const std::vector<std::optional<size_t>> computedIn =
      backwardFusion(request.grads, readElsewhere);
  std::map<size_t, size_t> fusedProducerOf;
  for (size_t p = 0; p < request.grads.size(); ++p) {
    if (!computedIn[p])
      continue;
    LoweredGrad &producer = request.grads[p];
    if (producer.accum.defined()) {
      fusedProducerOf[*computedIn[p]] = p;
      continue;
    }
    producer.output.func.compute_inline();
    storeAllOnDevice(producer.stored, std::nullopt, gpu);
  }
  for (size_t g = 0; g < request.grads.size(); ++g) {
    if (withTheirGradient.count(g) || computedIn[g])
      continue;
    auto fused = fusedProducerOf.find(g);
    if (fused == fusedProducerOf.end()) {
      scheduleGrad(request.grads[g], gpu);
      continue;
    }
    Func reader = request.grads[g].output.func;
    const LoweredGrad &producer = request.grads.at(fused->second);
    const std::optional<PerElementLoops> loops = storeOnDevice(reader, gpu);
    computeInThread(producer.output.func, reader, loops, gpu);
    computeInThread(producer.accum, reader, loops, gpu);
  }
  for (const ChannelStats *stats : request.orphanStats)
    storeAllOnDevice({stats->sum, stats->centred, stats->mean, stats->var},
                     std::nullopt, gpu);
}

} // namespace cnnc::hl
