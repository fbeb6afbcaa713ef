#include "GpuConvolution.h"

#include "GpuKernels.h"

#include <algorithm>
#include <array>
#include <map>

namespace cnnc::hl::gpu {

using Halide::Func;
using Halide::RVar;
using Halide::Stage;
using Halide::TailStrategy;
using Halide::Var;
using Halide::VarOrRVar;

namespace {

/// Kernel rows and columns of up to this many taps are unrolled.
constexpr int64_t kUnrolledTaps = 8;

/// Unrolls the update of `accum` (a convolution-like sum over (kx, ky,
/// ci)) along its reduction variable `index` (0: kx, 1: ky) where that has
/// at most kUnrolledTaps taps.
void unrollTapsAlong(Stage sums, const Func &accum, size_t index) {
  const Halide::Internal::ReductionVariable &tap =
      accum.function().update(0).schedule().rvars().at(index);
  if (const int64_t *k = Halide::Internal::as_const_int(tap.extent);
      k && *k <= kUnrolledTaps)
    sums.unroll(RVar(tap.var));
}

/// The smallest power of two that is at least `n`, or `limit` (a power of
/// two) where that is smaller.
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

/// Runs loops x, y, c of `s` on a block's threads (see ChannelTiling::lanes).
void onThreads(Stage s, VarOrRVar x, VarOrRVar y, VarOrRVar c,
               const ChannelTiling &t) {
  if (t.lanes)
    s.gpu_lanes(x).gpu_threads(y, c);
  else
    s.gpu_threads(x, y, c);
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

using Divisors = std::array<int64_t, 2>;

/// What a convolution-like sum divides the x and y coordinates it reads its
/// input at by (a strided convolution's input gradient reads dy at
/// (x + p - k) / s): 1 where it does not divide. Nothing where a divisor
/// is not a constant, or another coordinate is divided.
std::optional<Divisors> coordinateDivisors(const Func &reader,
                                           const std::string &callee) {
  class Division : public Halide::Internal::IRVisitor {
  public:
    std::optional<int64_t> divisor;
    bool unknown = false;

  private:
    using IRVisitor::visit;
    void visit(const Halide::Internal::Div *div) override {
      const int64_t *b = Halide::Internal::as_const_int(div->b);
      if (!b || (divisor && *divisor != *b))
        unknown = true;
      else
        divisor = *b;
      IRVisitor::visit(div);
    }
  };
  Divisors divisors{1, 1};
  for (const std::vector<Halide::Expr> &args : callArgsIn(reader, callee))
    for (size_t i = 0; i < args.size(); ++i) {
      Division division;
      args[i].accept(&division);
      if (division.unknown || (division.divisor && i >= 2) ||
          (division.divisor && divisors[i] != 1 &&
           divisors[i] != *division.divisor))
        return std::nullopt;
      if (division.divisor)
        divisors[i] = *division.divisor;
    }
  return divisors;
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
                                       const Divisors &divisors,
                                       const GpuModel &gpu) {
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  const int64_t *kW = Halide::Internal::as_const_int(r.x.extent());
  const int64_t *kH = Halide::Internal::as_const_int(r.y.extent());
  const int64_t *channels = Halide::Internal::as_const_int(r.z.extent());
  const auto [sx, sy] = divisors;
  // A divided read drops its taps only where they are unrolled.
  const bool divided = sx > 1 || sy > 1;
  if (!kW || !kH || !channels || C % gpu.warpLanes != 0 ||
      channelReadDependsOn(accum, source.name(), c) || W % sx != 0 ||
      H % sy != 0 || (divided && (*kW > kUnrolledTaps || *kH > kUnrolledTaps)))
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
      // A divided read's tile is whole strides, and so are its shifts
      // inwards: which taps divide is then known when it is unrolled.
      if (width % sx != 0 || height % sy != 0)
        continue;
      const std::optional<int64_t> staged = elementsRead(
          accum, source.name(), {width, height, 1, 1}, {*kW, *kH, 1});
      if (!staged)
        return std::nullopt;
      const int64_t fmas = int64_t(width) * height * taps / (sx * sy);
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
  unrollTapsAlong(sums, accum, 1);
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

} // namespace

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

TileLoops launchTiles(Func out, const ChannelTiling &t) {
  const std::vector<Var> v = out.args();
  out.compute_root();
  TileLoops l = splitIntoTiles(out, v, t);
  Var cn("cn");
  out.fuse(l.cb, v[3], cn).gpu_blocks(l.xo, l.yo, cn).unroll(l.ci).unroll(l.yr);
  return l;
}

void unrollTaps(Stage sums, const Func &accum) {
  unrollTapsAlong(sums, accum, 0);
}

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

bool storeConvolution(Func out, Func accum, const Func &source,
                      const Halide::RDom &r, const Var &c,
                      const cnn::shape::Shape &shape, const GpuModel &gpu) {
  const std::optional<Divisors> divisors =
      coordinateDivisors(accum, source.name());
  if (divisors)
    if (std::optional<WarpTiling> warp =
            warpTilingOf(source, accum, r, c, shape, *divisors, gpu)) {
      storeWarpTiled(out, accum, shape, *warp, gpu);
      return true;
    }
  // A channel-tiled strided input gradient is not staged (its staged sum
  // kept 64 floats per thread in local memory on CUDA), nor a grouped one.
  std::optional<StagedInput> staged;
  if (divisors == Divisors{1, 1})
    staged = stagedInputOf(source, accum, r, c, shape, gpu);
  storeChannelTiled(out, accum, shape, gpu, staged);
  return staged.has_value();
}

} // namespace cnnc::hl::gpu
