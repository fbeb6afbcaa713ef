#include "cnnc/halide/GpuSchedule.h"

#include "cnnc/halide/GradientSchedule.h"

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

/// The reduction variables of `f`'s update, innermost first, by their
/// unqualified names (a split one's is "r$y.ri"; Halide's reorder matches
/// the last part).
std::vector<VarOrRVar> reductionVarsOf(const Func &f) {
  std::vector<VarOrRVar> vars;
  for (const Halide::Internal::ReductionVariable &rv :
       f.function().update(0).schedule().rvars())
    vars.push_back(RVar(rv.var.substr(rv.var.rfind('.') + 1)));
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

/// A convolution's input staged in shared memory, a chunk of input channels
/// at a time: the threads of a block load the chunk's tile of `source`
/// (every value its pixels' taps read) together, then each thread reads its
/// taps from there. Halide's apps/conv_layer stages its input the same way.
struct StagedInput {
  Func source;
  int chunk = 1;
};

/// The pixels and channel tiles of one block of a convolution-like kernel,
/// and where the threads of a block hold their accumulators.
struct ChannelTiling {
  /// A thread's channels and rows (its register tile: tile x rows
  /// accumulators, each input value it loads feeding `tile` of them and each
  /// weight `rows`), and the block's threads along x, y and channel tiles.
  int tile, rows, tx, ty, tc;
  /// CUDA: the threads along x are a warp's lanes (gpu_lanes), so that
  /// accumulators a block allocates are striped over the lanes, each
  /// lane's in its registers. OpenCL has no lanes: all are gpu_threads, and
  /// a block's accumulators are in its shared memory (slower; the kernels
  /// stay the same, which the tests run on the CPU).
  bool lanes;
};

/// The tiling of a kernel over `shape` [N, C, H, W] whose threads each
/// accumulate up to `maxTile` channels of a pixel, and with `manyRows` of
/// as many rows as gpu.accumulatorsPerThread allows (a power of two, and
/// at most a quarter of the rows, so that a block still spans several
/// threads' rows).
ChannelTiling channelTiling(const cnn::shape::Shape &shape, const GpuModel &gpu,
                            int maxTile, bool manyRows) {
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  ChannelTiling t;
  t.tile = largestDivisorAtMost(C, maxTile);
  t.rows = 1;
  while (manyRows && t.rows * 2 * t.tile <= gpu.accumulatorsPerThread &&
         t.rows * 2 * 4 <= H)
    t.rows *= 2;
  t.tx = powerOfTwoAtLeast(W, 32);
  t.ty =
      powerOfTwoAtLeast((H + t.rows - 1) / t.rows, gpu.threadsPerBlock / t.tx);
  // Channel tiles are the block's z: at most 64 threads on CUDA (an image
  // of one pixel and 1,024 channels would ask for 128).
  t.tc = powerOfTwoAtLeast(
      (C + t.tile - 1) / t.tile,
      std::min(64, std::max(1, gpu.threadsPerBlock / (t.tx * t.ty))));
  t.lanes = gpu.api == GpuModel::Api::Cuda;
  return t;
}

/// The loops of a channel-tiled stage (innermost first): a thread's
/// channels and rows, the block's threads, then the blocks.
struct TileLoops {
  Var ci{"ci"}, yr{"yr"}, xi{"xi"}, yi{"yi"}, ct{"ct"}, xo{"xo"}, yo{"yo"},
      cb{"cb"};
};

/// Splits the pure Vars (x, y, c, n) of `s` into `t`'s tiles and orders
/// them (TileLoops, then n). Short names: kernel names grow with them.
TileLoops splitIntoTiles(Stage s, const std::vector<Var> &v,
                         const ChannelTiling &t) {
  TileLoops l;
  Var co("co"), yq("yq");
  s.split(v[2], co, l.ci, t.tile, TailStrategy::GuardWithIf)
      .split(co, l.cb, l.ct, t.tc, TailStrategy::GuardWithIf)
      .split(v[0], l.xo, l.xi, t.tx, TailStrategy::GuardWithIf)
      .split(v[1], yq, l.yr, t.rows, TailStrategy::GuardWithIf)
      .split(yq, l.yo, l.yi, t.ty, TailStrategy::GuardWithIf)
      .reorder(l.ci, l.yr, l.xi, l.yi, l.ct, l.xo, l.yo, l.cb, v[3]);
  return l;
}

/// Stores `out` (x, y, c, n) with one kernel tiled by `t`: blocks over the
/// pixel tiles and (channel tiles, images), a thread's register tile
/// unrolled. The caller puts the threads on the block's (xi, yi, ct).
TileLoops launchTiles(Func out, const ChannelTiling &t) {
  const std::vector<Var> v = out.args();
  out.compute_root();
  TileLoops l = splitIntoTiles(out, v, t);
  Var cn("cn");
  out.fuse(l.cb, v[3], cn).gpu_blocks(l.xo, l.yo, cn).unroll(l.ci).unroll(l.yr);
  return l;
}

/// Runs loops x, y, c of `s` on a block's threads (see ChannelTiling::lanes).
void onThreads(Stage s, VarOrRVar x, VarOrRVar y, VarOrRVar c,
               const ChannelTiling &t) {
  if (t.lanes)
    s.gpu_lanes(x).gpu_threads(y, c);
  else
    s.gpu_threads(x, y, c);
}

/// The update of `accum` (a convolution-like sum over (kx, ky, ci)): each
/// thread adds a kernel row of taps per iteration into every channel of its
/// tile.
void unrollTaps(Stage sums, const Func &accum) {
  const Halide::Internal::ReductionVariable &kx =
      accum.function().update(0).schedule().rvars()[0];
  if (const int64_t *k = Halide::Internal::as_const_int(kx.extent);
      k && *k <= 8)
    sums.unroll(RVar(kx.var));
}

/// A convolution-like result `out` (x, y, c, n) of `shape` [N, C, H, W]
/// whose every element is a sum `accum` over (taps, channels): one kernel in
/// which each thread accumulates a register tile of up to gpu.channelTile
/// channels of one pixel, or of several rows where not `staged` (each input
/// value it loads feeds its channels, each weight its rows; the weights are
/// the same across the threads of a warp). The threads of a
/// block span a tile of pixels and, for small images, of channel tiles.
/// With `staged`, the block stages its input in shared memory a chunk of
/// input channels at a time, and its threads sum each chunk from there.
void storeChannelTiled(Func out, Func accum, const cnn::shape::Shape &shape,
                       const GpuModel &gpu,
                       const std::optional<StagedInput> &staged = {}) {
  const ChannelTiling t =
      channelTiling(shape, gpu, gpu.channelTile, /*manyRows=*/!staged);
  const TileLoops l = launchTiles(out, t);
  const std::vector<Var> a = accum.args();
  const std::vector<VarOrRVar> rvars = reductionVarsOf(accum);
  if (!staged) {
    // Each thread's accumulators are its own (no lanes needed).
    out.gpu_threads(l.xi, l.yi, l.ct);
    accum.compute_at(out, l.xi);
    accum.reorder(a[2], a[1], a[0], a[3]).unroll(a[2]).unroll(a[1]);
    std::vector<VarOrRVar> order{a[2], a[1]};
    order.insert(order.end(), rvars.begin(), rvars.end());
    for (const Var &pure : {a[0], a[3]})
      order.push_back(pure);
    Stage sums = accum.update();
    sums.reorder(order).unroll(a[2]).unroll(a[1]);
    unrollTaps(sums, accum);
    return;
  }
  onThreads(out, l.xi, l.yi, l.ct, t);
  // The block's accumulators, allocated at its level (see
  // ChannelTiling::lanes), tiled over its threads like `out`.
  accum.compute_at(out, l.xo);
  // Striped over the lanes: a row of the block's accumulators is a warp
  // wide even where the image is narrower.
  if (t.lanes)
    accum.store_in(Halide::MemoryType::Register).align_storage(a[0], t.tx);
  Stage init = accum;
  TileLoops p = splitIntoTiles(init, a, t);
  init.unroll(p.ci).unroll(p.yr);
  onThreads(init, p.xi, p.yi, p.ct, t);
  Stage sums = accum.update();
  p = splitIntoTiles(sums, a, t);
  RVar kx = rvars[0].rvar, ky = rvars[1].rvar, rc = rvars[2].rvar, rco("rco"),
       rci("rci");
  sums.split(rc, rco, rci, staged->chunk, TailStrategy::GuardWithIf)
      .reorder({p.ci, p.yr, kx, ky, rci, p.xi, p.yi, p.ct, rco, p.xo, p.yo,
                p.cb, a[3]})
      .unroll(p.ci)
      .unroll(p.yr);
  onThreads(sums, p.xi, p.yi, p.ct, t);
  unrollTaps(sums, accum);
  // The chunk's input tile, loaded by the block's threads together (each
  // dimension split on its own, so that Halide's bounds of what is loaded
  // stay exact: nothing outside the input is read).
  Func source = staged->source;
  Func tile = source.in(accum);
  tile.compute_at(accum, rco);
  const std::vector<Var> s = tile.args();
  Var sxo("sxo"), sxi("sxi"), syo("syo"), syi("syi"), sco("sco"), sci("sci");
  tile.split(s[0], sxo, sxi, t.tx, TailStrategy::GuardWithIf)
      .split(s[1], syo, syi, t.ty, TailStrategy::GuardWithIf)
      .split(s[2], sco, sci, t.tc, TailStrategy::GuardWithIf)
      .reorder(sxi, syi, sci, sxo, syo, sco, s[3]);
  onThreads(tile, sxi, syi, sci, t);
}

/// The extents of the box of `callee` that the update of `reader` reads
/// over a box of its loops: its pure Vars (innermost first) over
/// [0, pure[i]) and its reduction variables over [0, reduction[i]) (over
/// their whole extent where `reduction` has no entry): Halide's bounds of
/// the update's calls. Nothing when those are not constant, or when
/// `reader` does not call `callee`.
std::optional<std::vector<int64_t>>
extentsRead(const Func &reader, const std::string &callee,
            const std::vector<int64_t> &pure,
            const std::vector<int64_t> &reduction) {
  using namespace Halide::Internal;
  const Definition &update = reader.function().update(0);
  const std::vector<Var> args = reader.args();
  Scope<Interval> scope;
  for (size_t i = 0; i < args.size() && i < pure.size(); ++i)
    scope.push(args[i].name(), Interval(0, int(pure[i] - 1)));
  const std::vector<ReductionVariable> &rvars = update.schedule().rvars();
  for (size_t i = 0; i < rvars.size(); ++i)
    scope.push(rvars[i].var,
               Interval(0, i < reduction.size()
                               ? Halide::Expr(int(reduction[i] - 1))
                               : simplify(rvars[i].extent - 1)));
  Box box;
  for (const Halide::Expr &value : update.values()) {
    const std::map<std::string, Box> boxes = boxes_required(value, scope);
    if (auto it = boxes.find(callee); it != boxes.end())
      merge_boxes(box, it->second);
  }
  if (box.empty())
    return std::nullopt;
  std::vector<int64_t> extents;
  for (const Interval &i : box.bounds) {
    if (!i.is_bounded())
      return std::nullopt;
    const int64_t *extent = as_const_int(simplify(i.max - i.min + 1));
    if (!extent)
      return std::nullopt;
    extents.push_back(*extent);
  }
  return extents;
}

/// The number of elements of the box extentsRead finds.
std::optional<int64_t> elementsRead(const Func &reader,
                                    const std::string &callee,
                                    const std::vector<int64_t> &pure,
                                    const std::vector<int64_t> &reduction) {
  const std::optional<std::vector<int64_t>> extents =
      extentsRead(reader, callee, pure, reduction);
  if (!extents)
    return std::nullopt;
  int64_t elements = 1;
  for (int64_t extent : *extents)
    elements *= extent;
  return elements;
}

/// The arguments of each call to `callee` in `reader`'s update, without
/// its lets: Halide binds a common subexpression (the channel a grouped
/// convolution's input gradient reads) to a name of its own.
std::vector<std::vector<Halide::Expr>> callArgsIn(const Func &reader,
                                                  const std::string &callee) {
  class Calls : public Halide::Internal::IRVisitor {
  public:
    explicit Calls(const std::string &callee) : callee(callee) {}
    std::vector<std::vector<Halide::Expr>> args;

  private:
    using IRVisitor::visit;
    void visit(const Halide::Internal::Call *call) override {
      if (call->name == callee)
        args.push_back(call->args);
      IRVisitor::visit(call);
    }
    const std::string &callee;
  };
  Calls calls(callee);
  for (const Halide::Expr &value : reader.function().update(0).values())
    Halide::Internal::substitute_in_all_lets(value).accept(&calls);
  return calls.args;
}

/// Whether the channel (third) argument of a call to `callee` in `reader`'s
/// update depends on the Var `c` (a grouped convolution's input channels
/// depend on its output channel).
bool channelReadDependsOn(const Func &reader, const std::string &callee,
                          const Var &c) {
  for (const std::vector<Halide::Expr> &args : callArgsIn(reader, callee))
    if (args.size() > 2 && Halide::Internal::expr_uses_var(args[2], c.name()))
      return true;
  return false;
}

/// Whether a call to `callee` in `reader`'s update divides a coordinate (a
/// strided convolution's input gradient reads dy at (x + p - k) / s).
bool readsDividedCoordinates(const Func &reader, const std::string &callee) {
  class Division : public Halide::Internal::IRVisitor {
  public:
    bool found = false;

  private:
    using IRVisitor::visit;
    void visit(const Halide::Internal::Div *) override { found = true; }
  };
  for (const std::vector<Halide::Expr> &args : callArgsIn(reader, callee))
    for (const Halide::Expr &arg : args) {
      Division division;
      arg.accept(&division);
      if (division.found)
        return true;
    }
  return false;
}

/// How a convolution-like sum `accum` (over rdom `r`: taps along x and y,
/// then channels; its output channel `c`, its result `shape`) stages what
/// it reads of `source` (see StagedInput): in the largest chunk of
/// channels whose tile fits in gpu.stagedInputBytes, and only where the
/// block's threads read each staged value twice or more (not a 1x1
/// convolution of a large image).
std::optional<StagedInput> stagedInputOf(const Func &source, const Func &accum,
                                         const Halide::RDom &r, const Var &c,
                                         const cnn::shape::Shape &shape,
                                         const GpuModel &gpu) {
  const ChannelTiling t =
      channelTiling(shape, gpu, gpu.channelTile, /*manyRows=*/false);
  const int64_t *kW = Halide::Internal::as_const_int(r.x.extent());
  const int64_t *kH = Halide::Internal::as_const_int(r.y.extent());
  const int64_t *channels = Halide::Internal::as_const_int(r.z.extent());
  // A lane loop (ChannelTiling::lanes) is a whole warp; a block's tile is
  // the same for every block only where the channels read do not depend on
  // the output channel (no groups).
  if (!kW || !kH || !channels || t.tx != 32 ||
      channelReadDependsOn(accum, source.name(), c))
    return std::nullopt;
  for (int chunk = int(std::min<int64_t>(*channels, gpu.stagedChannels));
       chunk >= 1; --chunk) {
    if (*channels % chunk != 0)
      continue;
    const std::optional<int64_t> elements = elementsRead(
        accum, source.name(), {t.tx, t.ty * t.rows, t.tile * t.tc, 1},
        {*kW, *kH, chunk});
    if (!elements)
      return std::nullopt;
    const int64_t reads =
        int64_t(t.tx) * t.ty * t.rows * t.tc * *kW * *kH * chunk;
    if (reads < 2 * *elements)
      return std::nullopt;
    if (*elements * int64_t(sizeof(float)) <= gpu.stagedInputBytes)
      return StagedInput{source, chunk};
  }
  return std::nullopt;
}

/// A Func that a convolution-like sum reads at its output channel along
/// one dimension and at reduction variables only along the others (the
/// weights): the Func and that dimension.
struct ChannelRead {
  Func callee;
  int dimension;
};

/// The weights the update of `accum` reads at its output channel `c` (see
/// ChannelRead), if one Func is read so.
std::optional<ChannelRead> weightsReadAt(const Func &accum, const Var &c) {
  class Calls : public Halide::Internal::IRVisitor {
  public:
    std::vector<const Halide::Internal::Call *> calls;

  private:
    using IRVisitor::visit;
    void visit(const Halide::Internal::Call *call) override {
      if (call->call_type == Halide::Internal::Call::Halide &&
          call->func.defined())
        calls.push_back(call);
      IRVisitor::visit(call);
    }
  };
  std::vector<Halide::Expr> values;
  Calls calls;
  for (const Halide::Expr &value : accum.function().update(0).values()) {
    values.push_back(Halide::Internal::substitute_in_all_lets(value));
    values.back().accept(&calls);
  }
  std::optional<ChannelRead> found;
  for (const Halide::Internal::Call *call : calls.calls) {
    std::optional<int> dimension;
    bool readsPixels = false;
    for (size_t i = 0; i < call->args.size(); ++i) {
      const auto *v = call->args[i].as<Halide::Internal::Variable>();
      if (v && v->name == c.name() && !dimension)
        dimension = int(i);
      else
        for (const Var &pure : accum.args())
          readsPixels = readsPixels || Halide::Internal::expr_uses_var(
                                           call->args[i], pure.name());
    }
    if (!dimension || readsPixels)
      continue;
    if (found && found->callee.name() != call->name)
      return std::nullopt;
    found =
        ChannelRead{Func(Halide::Internal::Function(call->func)), *dimension};
  }
  return found;
}

/// A convolution-like kernel as Halide's apps/conv_layer schedules it for
/// CUDA: the lanes of a warp (a block) are gpu.warpLanes output channels,
/// each lane accumulating a tile of `width` x `height` pixels of its
/// channel in registers. The warp stages the input the tile's taps read in
/// shared memory, a chunk of input channels at a time; every lane reads the
/// same staged values (a broadcast), each loaded value feeding the taps of
/// several pixels. The weights are read transposed, output channels
/// innermost, so that a warp's loads of them are coalesced.
struct WarpTiling {
  StagedInput staged;
  int width = 1, height = 1;
  ChannelRead weights;
  /// Whether the staged tile's rows start at multiples of 4 floats: rows
  /// read whole as vectors where a channel's plane of the packed tile
  /// would start unaligned (9 x 9 floats for a stride-2 3x3 convolution's
  /// 4 x 4 pixels: every load a scalar).
  bool alignedRows = false;
};

/// The warp tiling of a convolution-like sum `accum` (see stagedInputOf
/// for the arguments), where its output channels fill whole warps, its
/// input channels do not depend on the output channel (no groups), its
/// weights are read at its output channel, and a lane's tile does at
/// least an FMA per value it loads (staged values and weights: not a 1x1
/// convolution, whose threads reuse more as channel tiles). The tile is the
/// one (at most gpu.laneTileAccumulators pixels) with the fewest FMAs and
/// loads per output pixel, its tiles at the image's edges shifted inwards
/// (pixels computed twice rather than a tile of variable size, whose
/// staged loads cannot be vectors); the chunk the largest divisor of the
/// input channels, at most gpu.stagedChannels, whose tile fits in
/// gpu.stagedInputBytes.
std::optional<WarpTiling> warpTilingOf(const Func &source, const Func &accum,
                                       const Halide::RDom &r, const Var &c,
                                       const cnn::shape::Shape &shape,
                                       const GpuModel &gpu) {
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  const int64_t *kW = Halide::Internal::as_const_int(r.x.extent());
  const int64_t *kH = Halide::Internal::as_const_int(r.y.extent());
  const int64_t *channels = Halide::Internal::as_const_int(r.z.extent());
  if (!kW || !kH || !channels || C % gpu.warpLanes != 0 ||
      channelReadDependsOn(accum, source.name(), c))
    return std::nullopt;
  std::optional<ChannelRead> weights = weightsReadAt(accum, c);
  if (!weights)
    return std::nullopt;
  const int64_t taps = *kW * *kH;
  WarpTiling best{{source, 1}, 0, 0, *weights};
  int64_t bestCost = 0;
  for (int height = 1; height <= std::min<int64_t>(H, gpu.laneTileAccumulators);
       ++height)
    for (int width = 1;
         width * height <= gpu.laneTileAccumulators && width <= W; ++width) {
      const std::optional<int64_t> staged = elementsRead(
          accum, source.name(), {width, height, 1, 1}, {*kW, *kH, 1});
      if (!staged)
        return std::nullopt;
      const int64_t fmas = int64_t(width) * height * taps;
      if (fmas < *staged + taps)
        continue;
      // An issue slot per FMA and per load (staged value or weight), over
      // every tile of the image.
      const int64_t cost = ((W + width - 1) / width) *
                           ((H + height - 1) / height) *
                           (fmas + *staged + taps);
      if (!best.width || cost < bestCost) {
        best.width = width;
        best.height = height;
        bestCost = cost;
      }
    }
  if (!best.width)
    return std::nullopt;
  const std::optional<std::vector<int64_t>> plane = extentsRead(
      accum, source.name(), {best.width, best.height, 1, 1}, {*kW, *kH, 1});
  if (!plane || plane->size() < 2)
    return std::nullopt;
  const int64_t rowWidth = (*plane)[0], rows = (*plane)[1];
  best.alignedRows = rowWidth % 4 != 0 && rowWidth * rows % 4 != 0;
  const int64_t planeFloats =
      (best.alignedRows ? (rowWidth + 3) / 4 * 4 : rowWidth) * rows;
  for (int chunk = int(std::min<int64_t>(*channels, gpu.stagedChannels));
       chunk >= 1; --chunk) {
    if (*channels % chunk == 0 &&
        planeFloats * chunk * int64_t(sizeof(float)) <= gpu.stagedInputBytes) {
      best.staged.chunk = chunk;
      return best;
    }
  }
  return std::nullopt;
}

/// Runs loop `v` of `s` on the lanes of a warp (CUDA), or on a block's
/// threads (OpenCL, which has no lanes; a block's accumulators are then
/// in its shared memory).
void onLanes(Stage s, VarOrRVar v, const GpuModel &gpu) {
  if (gpu.api == GpuModel::Api::Cuda)
    s.gpu_lanes(v);
  else
    s.gpu_threads(v);
}

/// Stores `out` (x, y, c, n) of `shape` [N, C, H, W], whose every element is
/// the sum `accum` over (taps, input channels), with one kernel tiled by
/// `t` (see WarpTiling): a block is a warp, over a tile of pixels and
/// gpu.warpLanes channels of one image.
void storeWarpTiled(Func out, Func accum, const cnn::shape::Shape &shape,
                    const WarpTiling &t, const GpuModel &gpu) {
  const std::vector<Var> v = out.args();
  // Exactly the tensor, so that the tiles' bounds (and the staged tile's
  // size) are constants.
  out.compute_root()
      .bound(v[0], 0, int(shape[3]))
      .bound(v[1], 0, int(shape[2]))
      .bound(v[2], 0, int(shape[1]));
  // A block of one warp needs no barrier if its lanes run in lockstep,
  // which Halide assumes (it injects none where a block has only lanes);
  // since Volta they need not, so the block gets a second dimension of
  // one thread, and Halide its barriers (around the staged tile's loads).
  // Each lane loop then holds a whole unrolled tile, so that barriers go
  // between the stages only.
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), cn("cn"),
      one("one");
  out.split(v[0], xo, xi, t.width, TailStrategy::ShiftInwards)
      .split(v[1], yo, yi, t.height, TailStrategy::ShiftInwards)
      .split(v[2], co, ci, gpu.warpLanes)
      .split(xo, xo, one, 1)
      .reorder(xi, yi, ci, one, xo, yo, co, v[3])
      .unroll(xi)
      .unroll(yi)
      .fuse(co, v[3], cn)
      .gpu_blocks(xo, yo, cn)
      .gpu_threads(one);
  onLanes(out, ci, gpu);
  // The warp's accumulators, allocated at its level, channels innermost:
  // on CUDA each lane's are in its registers (striped over the lanes).
  const std::vector<Var> a = accum.args();
  accum.compute_at(out, xo)
      .reorder_storage(a[2], a[0], a[1], a[3])
      .unroll(a[0])
      .unroll(a[1]);
  if (gpu.api == GpuModel::Api::Cuda)
    accum.store_in(Halide::MemoryType::Register);
  onLanes(accum, a[2], gpu);
  const std::vector<VarOrRVar> rvars = reductionVarsOf(accum);
  RVar kx = rvars[0].rvar, ky = rvars[1].rvar, rc = rvars[2].rvar, rco("rco"),
       rci("rci");
  Stage sums = accum.update();
  sums.split(rc, rco, rci, t.staged.chunk, TailStrategy::GuardWithIf)
      .reorder({a[0], a[1], kx, ky, a[2], rci, rco, a[3]})
      .unroll(a[0])
      .unroll(a[1]);
  onLanes(sums, a[2], gpu);
  // The kernel's rows unrolled too (the channel-tiled threads keep them a
  // loop): with a lane's pixels and all its taps unrolled, each staged
  // value is loaded once per input channel, however many taps read it.
  unrollTaps(sums, accum);
  if (const int64_t *k = Halide::Internal::as_const_int(
          accum.function().update(0).schedule().rvars()[1].extent);
      k && *k <= 8)
    sums.unroll(ky);
  // The chunk's input tile, loaded by the lanes together.
  Func tile = Func(t.staged.source).in(accum);
  tile.compute_at(accum, rco);
  const std::vector<Var> s = tile.args();
  if (t.alignedRows)
    tile.align_storage(s[0], 4);
  Var p("p"), po("po"), pi("pi");
  tile.fuse(s[0], s[1], p)
      .fuse(p, s[2], p)
      .split(p, po, pi, gpu.warpLanes, TailStrategy::GuardWithIf)
      .reorder(pi, po, s[3]);
  onLanes(tile, pi, gpu);
  // The weights, output channels innermost: a kernel of their own.
  Func transposed = Func(t.weights.callee).in(accum);
  const std::vector<Var> w = transposed.args();
  std::vector<Var> storage{w[size_t(t.weights.dimension)]};
  for (size_t i = 0; i < w.size(); ++i)
    if (int(i) != t.weights.dimension)
      storage.push_back(w[i]);
  // Computed just before the convolution (and freed after it), so that one
  // convolution's transposed weights are alive at a time.
  transposed.compute_at(out, Var::outermost()).reorder_storage(storage);
  launchPerElement(transposed,
                   std::vector<VarOrRVar>(storage.begin(), storage.end()),
                   gpu.threadsPerBlock);
}

/// Stores `out`, whose every element is the convolution-like sum `accum`
/// of `source` (see stagedInputOf for the other arguments): warp-tiled
/// where warpTilingOf allows, else channel-tiled, staging `source` where
/// stagedInputOf allows. Neither where not `mayStage`. Returns whether the
/// kernel stages `source` (else the caller stores it where it is a stage
/// of its own).
bool storeConvolution(Func out, Func accum, const Func &source,
                      const Halide::RDom &r, const Var &c,
                      const cnn::shape::Shape &shape, const GpuModel &gpu,
                      bool mayStage = true) {
  if (mayStage)
    if (std::optional<WarpTiling> warp =
            warpTilingOf(source, accum, r, c, shape, gpu)) {
      storeWarpTiled(out, accum, shape, *warp, gpu);
      return true;
    }
  std::optional<StagedInput> staged;
  if (mayStage)
    staged = stagedInputOf(source, accum, r, c, shape, gpu);
  storeChannelTiled(out, accum, shape, gpu, staged);
  return staged.has_value();
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
    for (Func &f : op.stored)
      storeAnyOnDevice(f, channelsOf(op.output.shape), gpu);
  }
  LoweredOp &anchor = ops.at(size_t(group.anchor));
  for (Func &f : anchor.stored)
    storeAnyOnDevice(f, channelsOf(anchor.output.shape), gpu);
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

/// An SGD step's new parameters and new momentum (same shape, same
/// operands) in one kernel: each thread writes both for its element.
void storeWithVelocity(Func param, Func velocity, const GpuModel &gpu) {
  std::optional<PerElementLoops> loops = storeOnDevice(param, gpu);
  std::optional<PerElementLoops> own = storeOnDevice(velocity, gpu);
  if (loops && own)
    velocity.compute_with(param, loops->block);
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
  reduceInThread(g.accum, param, loops, elementCount(g.output.shape), gpu,
                 g.kind == GradKind::Conv2dWeightGrad ? weightGradTile(g, gpu)
                                                      : RegisterTile{});
  // The padded input, or the input by phase (strided), as without the
  // update.
  for (Func &f : g.stored)
    storeAnyOnDevice(f, std::nullopt, gpu);
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
    // Not a strided convolution's: its staged sum keeps 64 floats per
    // thread in local memory on CUDA (ResNet-18's stride-2 convolutions).
    const Func dyPadded = g.stored.at(0);
    if (!storeConvolution(g.output.func, g.accum, dyPadded, g.rdom, g.vars[2],
                          g.output.shape, gpu,
                          !readsDividedCoordinates(g.accum, dyPadded.name())))
      storeOnDevice(dyPadded, gpu);
    return;
  }
  if (g.kind == GradKind::Conv2dWeightGrad)
    reduceInThread(g.accum, g.output.func, storeOnDevice(g.output.func, gpu),
                   elementCount(g.output.shape), gpu, weightGradTile(g, gpu));
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
    for (Func &f : producer.stored)
      storeAnyOnDevice(f, std::nullopt, gpu);
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
    for (Func f : {stats->sum, stats->centred, stats->mean, stats->var})
      storeAnyOnDevice(f, std::nullopt, gpu);
}

} // namespace cnnc::hl
