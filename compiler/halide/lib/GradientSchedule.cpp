// The default CPU schedule of the backward ops: stored results, vectorised,
// parallel over independent slices, serial reductions.
#include "cnnc/halide/GradientSchedule.h"

#include "cnnc/halide/CpuSchedule.h"

#include "Common.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace cnnc::hl {

using namespace Halide;

namespace {

/// The work of tiles of `tile` over `extent`, rounded up to whole tiles, per
/// unit of the extent: 1 when the tile divides it.
double roundingWaste(int extent, int tile) {
  return double((extent + tile - 1) / tile * tile) / extent;
}

using detail::vectorWidth;
using detail::wholeVectorWidth;

/// The parallel loop of a stored result: where a per-slice producer may be
/// computed, or another result computed with it (compute_with).
struct Slice {
  Func f;
  Var var;
  LoopLevel level() const { return LoopLevel(f, var); }
};

/// Stores `f` (a result of shape `shape`, pure args `vars`), vectorised
/// along vars[0] and parallel over its outermost dims. Returns the
/// parallel loop, or nothing when there is none.
///
/// Rank-4 results with rows narrower than a vector are vectorised over
/// whole planes instead (x and y fused, as storePlanes does), and a
/// convolution's weight-shaped result (no batch dim; an SGD update, 3x3
/// kernels) over the (kx, ky, ci) of each output channel: a 3-wide loop
/// would otherwise run scalar.
///
/// `outerBlock` > 1 (weight-shaped results only): the parallel loop runs
/// over blocks of that many output channels (to match a producer computed
/// per block).
std::optional<Slice> storeResult(Func f, const std::vector<Var> &vars,
                                 const cnn::shape::Shape &shape, int natural,
                                 int outerBlock = 1) {
  f.compute_root();
  const size_t rank = vars.size();
  if (rank == 0)
    return std::nullopt;
  if (rank == 4 && shape[3] < natural) {
    for (size_t i = 0; i < 3; ++i)
      f.bound(vars[i], 0, int(shape[3 - i]));
    Var inner(vars[0].name() + "_" + vars[1].name()), outer = vars[3];
    f.fuse(vars[0], vars[1], inner);
    if (shape[0] != cnn::shape::kDynamic) {
      Var wide(inner.name() + "_" + vars[2].name());
      f.fuse(inner, vars[2], wide);
      inner = wide;
      if (outerBlock > 1) {
        Var blocks(outer.name() + "_o"), within(outer.name() + "_i");
        f.bound(outer, 0, int(shape[0]))
            .split(outer, blocks, within, outerBlock);
        outer = blocks;
      }
    } else {
      Var cn(vars[2].name() + "_" + vars[3].name());
      f.fuse(vars[2], vars[3], cn);
      outer = cn;
    }
    f.vectorize(inner, natural, TailStrategy::GuardWithIf).parallel(outer);
    return Slice{f, outer};
  }
  f.vectorize(vars[0], vectorWidth(natural, shape.back()),
              TailStrategy::GuardWithIf);
  if (rank == 1)
    return std::nullopt;
  Var outer = vars[rank - 1];
  if (rank >= 3) {
    Var fused(vars[rank - 2].name() + "_" + vars[rank - 1].name());
    f.fuse(vars[rank - 2], vars[rank - 1], fused);
    outer = fused;
  }
  f.parallel(outer);
  return Slice{f, outer};
}

/// The image that `f` reads through pure wrappers (a pipeline argument's
/// read Func, Func::in copies), if any: what Func::prefetch takes for an
/// operand that is inlined, as the parameters and velocities read by an SGD
/// update are.
std::optional<Internal::Parameter> imageReadBy(Func f) {
  Internal::Function fn = f.function();
  for (int depth = 0; depth < 4; ++depth) {
    if (!fn.has_pure_definition() || fn.has_update_definition() ||
        fn.values().size() != 1)
      return std::nullopt;
    const auto *call = fn.values()[0].as<Internal::Call>();
    if (!call)
      return std::nullopt;
    if (call->param.defined())
      return call->param;
    if (!call->func.defined())
      return std::nullopt;
    fn = Internal::Function(call->func);
  }
  return std::nullopt;
}

/// The result of a fused SGD update whose loops the other is computed with:
/// the velocity when there is one, else the new parameter.
Func leadOf(const LoweredGrad &update) {
  return update.extraOutputs.empty() ? update.output.func
                                     : update.extraOutputs[0].func;
}

/// Stores the results of an SGD update fused with the weight gradient it
/// reads, each by `store` (which returns the loop whose iteration is one
/// block of weights): the velocity, when there is one, leads and the new
/// parameter is computed with it, so both read a block's gradient while it
/// is in cache. Returns the lead's loop: where the block's gradient goes.
LoopLevel storeFusedUpdate(LoweredGrad &update,
                           const std::function<Var(Func)> &store) {
  Func lead = leadOf(update);
  Var block = store(lead);
  if (!update.extraOutputs.empty()) {
    store(update.output.func);
    update.output.func.compute_with(lead, block);
  }
  return LoopLevel(lead, block);
}

/// Conv weight gradient: each weight reduces over (ox, oy, n), and the
/// kernel x is too short to vectorise. rfactor over ox lanes: per-lane
/// partial sums (vectorised over ox; the kx taps and a block of output
/// channels unrolled as independent accumulators, so each input vector
/// feeds the whole block) per parallel (ci, block of o) slice, then a sum
/// over the lanes. The summation order is fixed: deterministic.
///
/// With `update` (the SGD step that reads this gradient), the optimizer is
/// fused into the gradient's only use: the update runs parallel over the
/// same blocks of output channels, and each block's gradient is computed
/// inside that loop, just before its weights are updated.
void scheduleConvWeightGrad(LoweredGrad &g, const MachineModel &machine,
                            LoweredGrad *update) {
  const int natural = machine.floatLanes;
  // The zero-padded input, or the input by phase (strided).
  for (Func stored : g.stored)
    stored.vectorize(stored.args()[0], natural);
  Var kx = g.vars[0], ky = g.vars[1], ci = g.vars[2], o = g.vars[3];
  // rdom (ox, oy, n), or (pixel, chunk, oy, n) with rows in chunks.
  const bool chunked = g.rdom.dimensions() == 4;
  RVar rx(g.rdom[0]), ry(g.rdom[chunked ? 2 : 1]), rn(g.rdom[chunked ? 3 : 2]);
  const int outW = int(*as_const_int(g.rdom[0].extent()));
  const int kW = int(g.output.shape[3]);
  const int O = int(g.output.shape[0]);
  const int lanes = chunked ? outW : detail::reductionLanes(outW, natural);
  const bool unrollKx = kW <= 8;
  // Output channels per block: a divisor of O, the accumulators within the
  // register budget; the input vectors of each step are shared by the whole
  // block.
  const int budget = machine.accumulatorBudget();
  const int perChannel =
      (unrollKx ? kW : 1) * ((lanes + natural - 1) / natural);
  int block = 1;
  for (int d = std::min(O, 4); d >= 1; --d)
    if (O % d == 0 && d * perChannel <= budget) {
      block = d;
      break;
    }
  Var oo(o.name() + "_o"), oi(o.name() + "_i"),
      slice(ci.name() + "_" + o.name());
  Func out = g.output.func;
  out.vectorize(kx, vectorWidth(natural, kW), TailStrategy::GuardWithIf);
  if (update) {
    // The update's (kx, ky, ci) of a block vectorised as one plane.
    LoopLevel blockLoop = storeFusedUpdate(*update, [&](Func f) {
      return storeResult(f, update->vars, g.output.shape, natural, block)->var;
    });
    out.compute_at(blockLoop).reorder(kx, o, ky, ci);
    slice = ci; // a block's input channels: serial
  } else {
    out.compute_root()
        .split(o, oo, oi, block)
        .reorder(kx, oi, ky, ci, oo)
        .fuse(ci, oo, slice)
        .parallel(slice);
  }

  // The partial sums are a few vectors of fixed size per kernel row of a
  // channel block, kept in registers over the reduction instead of going
  // through memory at every step. With whole-vector chunks, the sums of all
  // kernel rows live on the stack, loaded into registers per (n, ky): each
  // image is read once per slice, while in cache. Rows of masked lanes do
  // better with one kernel row's sums in registers over the whole reduction
  // (LLVM keeps masked vectors out of registers across loops).
  const LoopLevel at(out, chunked ? VarOrRVar(slice) : VarOrRVar(ky));
  Func accum = g.accum;
  accum.compute_at(at);
  Var lane(g.accum.name() + "_lane");
  std::vector<VarOrRVar> order{lane, kx, oi};
  Func partial = rfactorOverLanes(accum.update(), rx, outW, lanes, lane, order);
  if (chunked)
    order.insert(order.end(), {RVar(g.rdom[1]), ry, ky, rn});
  else
    order.insert(order.end(), {ry, rn, ky});
  order.insert(order.end(), {ci, oo});
  partial.compute_at(at);
  // rfactor appends `lane` to the args: store it innermost (dense vectors).
  std::vector<Var> storage{lane};
  for (const Var &v : partial.args())
    if (v.name() != lane.name())
      storage.push_back(v);
  partial.reorder_storage(storage);
  // A static kx extent: the unrolled taps index fixed accumulators.
  partial.bound(kx, 0, kW);
  Stage pu = partial.update();
  pu.split(o, oo, oi, block).reorder(order).unroll(oi);
  if (lanes > 1) {
    partial.vectorize(lane, lanes);
    pu.vectorize(lane, lanes);
  }
  if (unrollKx)
    pu.unroll(kx);
  // Unrolled chunks start at constants: the last one's mask folds to a
  // constant blend.
  if (chunked)
    pu.unroll(RVar(g.rdom[1]));
}

/// A conv weight gradient over output channels whose block's dy fits fewer
/// images than this in half of L2 sums the batch in passes (see
/// scheduleConvWeightGradOverChannels).
constexpr int kImagesPerPassBelow = 16;

/// The tile of a conv weight gradient vectorised over output channels:
/// `vectors` vectors of output channels by taps (the whole kernel row, a
/// block of kernel rows and a block of input channels), every extent a
/// divisor, so each tile has a constant size.
struct ChannelTile {
  int vectors = 0, rows = 0, channels = 0;
  /// Every row of the kernel (rows == kH), chosen for a fused SGD update:
  /// see channelTileOf.
  bool wholeKernels = false;
};

/// The tile of two vectors of output channels when they fill two, else of
/// one, with the most taps within the register budget; none when the output
/// channels do not fill whole vectors, the kernel is grouped (the input
/// channel would depend on the output channel), the kernel row alone
/// exceeds the budget or the rows are chunked (the algorithm chunks wide
/// rows unless weightGradOverOutputChannels: whole vectors of x then).
///
/// With `fusedUpdate` (an SGD update fused into the tiles) the tiles hold
/// whole kernels (every row) when that keeps the vectors of output channels
/// of the best tile: a tile's taps of each output channel are then one run
/// of its input channels' contiguous kernels in the weights, which the
/// update reads and writes as vectors; over output channels it gathered and
/// scattered single floats a kernel's size apart (ResNet-18's 512 x 512 x
/// 3 x 3 weights: half of the fused kernel's time went to the update, and
/// the kernels of its last stage took 2.0-2.1% of a b16 bench's samples
/// each, 1.3-1.5% with whole kernels). With AVX2's budget a whole 3x3
/// kernel leaves one vector of output channels, a load per FMA: not taken.
std::optional<ChannelTile> channelTileOf(const LoweredGrad &g,
                                         const MachineModel &machine,
                                         bool fusedUpdate) {
  const cnn::shape::Shape &w = g.output.shape;
  const int O = int(w[0]), C = int(w[1]), kH = int(w[2]), kW = int(w[3]);
  const int natural = machine.floatLanes;
  const bool grouped = g.inputs.at(0).shape[1] != w[1];
  if (natural < 2 || O % natural != 0 || grouped || g.rdom.dimensions() != 3)
    return std::nullopt;
  const int budget = machine.accumulatorBudget();
  auto bestOf = [&](int fromRows) {
    std::optional<ChannelTile> best;
    for (int v = O % (2 * natural) == 0 ? 2 : 1; v >= 1 && !best; --v)
      for (int r = fromRows; r <= kH; ++r)
        for (int c = 1; c <= C; ++c) {
          const int taps = kW * r * c;
          if (kH % r != 0 || C % c != 0 || v * taps > budget)
            continue;
          if (!best || taps > best->rows * best->channels * kW)
            best = ChannelTile{v, r, c};
        }
    return best;
  };
  std::optional<ChannelTile> best = bestOf(1);
  if (fusedUpdate && best) {
    std::optional<ChannelTile> whole = bestOf(kH);
    if (whole && whole->vectors == best->vectors) {
      whole->wholeKernels = true;
      return whole;
    }
  }
  return best;
}

/// Conv weight gradient for rows no wider than a chunk (LeNet's conv2 is
/// 10 wide, ResNet's last stages 14 and 7), which would fill few lanes of a
/// vector along x, and for whole rows of any width
/// (weightGradOverOutputChannels: conv64, ResNet's first stages):
/// vectorised over the output channels instead, which fill whole vectors. Each
/// parallel task owns a tile of weights (ChannelTile) whose accumulators stay
/// in registers over the whole (ox, oy, n) reduction: per pixel, `vectors`
/// loads of dy (a stored copy with the channels innermost, made once per step)
/// feed every tap, each tap's input value broadcast. Every weight sums its
/// pixels in order: deterministic.
///
/// The tasks of one block of output channels are the blocks of kernel rows
/// or of input channels (the more numerous): max(kH / rows, C / channels),
/// 5 for LeNet's conv2, 256 for ResNet's 256-channel 3x3 convs with their
/// update fused (whole kernels of one input channel).
///
/// A tile reads its block's dy over the whole batch, from cache while that
/// fits (LeNet's conv2 at batch 256: 1.6 MB; ResNet-18's 14-wide stage at
/// batch 16: 0.4 MB per block of 32 channels). Larger planes (conv64's 56 x
/// 56: 51 MB at batch 64) are summed in passes over the batch (below).
///
/// With `update` (the SGD step that reads this gradient), the update runs
/// parallel over the same tiles, each tile's gradient computed inside that
/// loop just before its weights are updated (as scheduleConvWeightGrad).
void scheduleConvWeightGradOverChannels(LoweredGrad &g, const ChannelTile &tile,
                                        const MachineModel &machine,
                                        LoweredGrad *update) {
  const int natural = machine.floatLanes;
  for (Func padded : g.stored) // the zero-padded input, when padded
    padded.vectorize(padded.args()[0], natural);
  const cnn::shape::Shape &w = g.output.shape;
  // Stores weight-shaped `f` (pure args kx, ky, ci, o) by tiles: blocks of
  // output channels serial outermost (a block's dy is read by every tile of
  // it, while in cache), then the blocks of kernel rows and of input
  // channels, the more numerous parallel. Returns the var of the loop whose
  // iteration is one tile. (Not one fused tile loop: Halide 14's bounds of
  // a func computed inside a compute_with group lose fused loops, and each
  // tile would compute the whole gradient.)
  const bool rowsParallel = int(w[2]) / tile.rows > int(w[1]) / tile.channels;
  // With `kernelsInnermost` (ChannelTile::wholeKernels) a tile's loops run
  // over each output channel's run of whole kernels, contiguous in the
  // weights, as vectors (the last one masked).
  auto tileLoop = [&](Func f, const std::vector<Var> &vars,
                      bool kernelsInnermost) {
    Var kx = vars[0], ky = vars[1], ci = vars[2], o = vars[3];
    Var oo(o.name() + "_o"), oi(o.name() + "_i"), yo(ky.name() + "_o"),
        yi(ky.name() + "_i"), co(ci.name() + "_o"), cb(ci.name() + "_i"),
        taps(kx.name() + "_" + ky.name()), run(taps.name() + "_" + ci.name());
    Var parallel = rowsParallel ? yo : co, inner = rowsParallel ? co : yo;
    f.compute_root()
        .bound(kx, 0, int(w[3]))
        .bound(ky, 0, int(w[2]))
        .bound(ci, 0, int(w[1]))
        .bound(o, 0, int(w[0]))
        .split(o, oo, oi, tile.vectors * natural)
        .split(ky, yo, yi, tile.rows)
        .split(ci, co, cb, tile.channels);
    if (kernelsInnermost)
      f.reorder(kx, yi, cb, oi, inner, parallel, oo)
          .fuse(kx, yi, taps)
          .fuse(taps, cb, run)
          .vectorize(run, natural, TailStrategy::GuardWithIf);
    else
      f.reorder(oi, kx, yi, cb, inner, parallel, oo).vectorize(oi, natural);
    f.parallel(parallel);
    return inner;
  };
  Var kx = g.vars[0], ky = g.vars[1], ci = g.vars[2], o = g.vars[3];
  Func out = g.output.func;
  LoopLevel tileAt, blockAt;
  if (update) {
    tileAt = storeFusedUpdate(*update, [&](Func f) {
      return tileLoop(f, update->vars, tile.wholeKernels);
    });
    // A tile's gradient, channels innermost as its sums hold them: the
    // update reads dense vectors, or with whole kernels gathers each output
    // channel's run of taps from this small buffer (in L1).
    out.compute_at(tileAt)
        .reorder_storage(o, kx, ky, ci)
        .reorder(o, kx, ky, ci)
        .vectorize(o, natural);
    blockAt = LoopLevel(leadOf(*update), Var(update->vars[3].name() + "_o"));
  } else {
    tileAt = LoopLevel(out, tileLoop(out, g.vars, false));
    blockAt = LoopLevel(out, Var(o.name() + "_o"));
  }

  // A block whose dy fills L2 with a few images (conv64's and ResNet-18's
  // first stages: 32 channels of 56 x 56 are 392 KiB an image) sums the
  // batch in passes of `imagesPerPass` images, the pass's dy in L2 while
  // every tile of the block reads it: block-wide sums, each pass running
  // the block's tiles in parallel, a tile's sums in registers over the
  // pass's pixels (in order: deterministic). In one pass over a whole batch
  // every tile read that dy from memory (conv64's train step at batch 64:
  // 198-221 ms, against 156-171 for chunked rows along x and 111 in
  // passes). Smaller planes keep each tile's sums in registers over the
  // whole batch, with no block-wide sums to store (LeNet's conv2 measured
  // 6% slower in passes).
  const cnn::shape::Shape &dyShape = g.inputs.at(1).shape;
  const int64_t blockImageBytes = int64_t(tile.vectors) * natural * dyShape[2] *
                                  dyShape[3] * int64_t(sizeof(float));
  const int imagesPerPass =
      int(std::max<int64_t>(1, machine.l2Bytes / 2 / blockImageBytes));
  const bool inPasses = imagesPerPass < kImagesPerPassBelow;

  // A whole-kernel tile updates a few bytes of each of 32 or more weight
  // rows far apart (layer4's: 18 KiB), as many velocity rows, after a
  // short FMA loop (49 pixels an image on layer4): its loads would wait on
  // memory a line at a time. Each task (a block of input channels: whole
  // kernels leave one block of rows) fetches its own rows before computing
  // its gradient; not a later task's, which may run on the other core,
  // with its own L2. (Summed in passes, the gradient is computed before
  // the tasks: nothing to overlap.)
  if (update && tile.wholeKernels && !inPasses) {
    Var task(update->vars[2].name() + "_o");
    for (const Tensor &in : update->inputs)
      if (std::optional<Internal::Parameter> image = imageReadBy(in.func))
        leadOf(*update).prefetch(*image, task, task, 0);
  }
  Func accum = g.accum;
  Var lanes(o.name() + "_lanes"), vec(o.name() + "_vec");
  accum.compute_at(inPasses ? blockAt : tileAt)
      .reorder_storage(o, kx, ky, ci)
      .reorder(o, kx, ky, ci)
      .vectorize(o, natural);
  Stage sums = accum.update();
  sums.split(o, vec, lanes, natural).vectorize(lanes).unroll(vec).unroll(kx);
  if (inPasses) {
    Var yo(ky.name() + "_o"), yi(ky.name() + "_i"), co(ci.name() + "_o"),
        cb(ci.name() + "_i");
    RVar rx(g.rdom[0]), ry(g.rdom[1]), rn(g.rdom[2]);
    RVar rno(rn.name() + "_o"), rni(rn.name() + "_i");
    Var parallel = rowsParallel ? yo : co, inner = rowsParallel ? co : yo;
    sums.split(ky, yo, yi, tile.rows, TailStrategy::GuardWithIf)
        .split(ci, co, cb, tile.channels, TailStrategy::GuardWithIf)
        .split(rn, rno, rni, imagesPerPass)
        .reorder(lanes, vec, kx, yi, cb, rx, ry, rni, inner, parallel, rno)
        .unroll(yi)
        .unroll(cb)
        .parallel(parallel);
  } else {
    std::vector<VarOrRVar> order{lanes, vec, kx, ky, ci};
    for (int r = 0; r < g.rdom.dimensions(); ++r)
      order.push_back(RVar(g.rdom[r]));
    sums.reorder(order).unroll(ky).unroll(ci);
  }

  // dy with its channels innermost: one dense vector load per pixel.
  Func dy = g.inputs.at(1).func.in(accum);
  std::vector<Var> a = dy.args();
  dy.compute_root()
      .reorder_storage(a[2], a[0], a[1], a[3])
      .reorder(a[2], a[0], a[1], a[3])
      .vectorize(a[2], natural)
      .parallel(a[3]);
}

/// Whether a conv input gradient's conv is strided, read off the shapes
/// (the gradient carries no stride): stride 2 leaves at most (H + 1) / 2
/// rows, stride 1 with 3x3 taps at least H - 2 (H - 4 dilated). A tiny
/// stride-1 plane taken for strided only gets the strided schedule: still
/// exact.
bool looksStrided(const LoweredGrad &g) {
  const cnn::shape::Shape &dx = g.output.shape, &dy = g.inputs.at(0).shape;
  return 2 * dy[2] <= dx[2] + 1 || 2 * dy[3] <= dx[3] + 1;
}

/// The tile of a conv input gradient vectorised over input channels:
/// `cols` x `rows` input pixels, each pixel one vector of channels.
struct PixelTile {
  int cols = 0, rows = 0;
};

/// For a strided conv (dy about half the plane: ResNet-18's stride-2 convs
/// and downsamples) whose input channels fill whole vectors, ungrouped, with
/// at most 3x3 taps: the tile of even extents (stride 2: which taps land on
/// a pixel is then fixed per unrolled pixel, and the others are pruned;
/// other strides stay correct, with a select per tap) dividing the plane
/// or, on an even side, with the last tile shifted inwards (recomputed
/// pixels count as waste), within the register budget, with the fewest loads
/// per FMA when every tap is unrolled (each dy value the tile reads is
/// broadcast once, each tap's weights are one vector). None otherwise.
///
/// scheduleConvInputGrad computes every tap of a strided conv through a
/// select, 3 of 4 of them masked off: ResNet-18's stride-2 3x3 input
/// gradients took 5.2%, 4.5% and 4.8% of a batch-16 bench's samples, and
/// 0.5%, 0.7% and 3.0% in tiles dividing the plane. The 14-wide plane then
/// only had 2 x 2 tiles (each weight vector loaded for one FMA): shifted
/// 6 x 4 tiles took it from 4.4% to 1.1%. (At stride 1 scheduleConvInputGrad
/// did better than these tiles, 3.8% against 4.5% on the 7-wide stage in
/// 7 x 1 tiles; scheduleConvInputGradChannelVectors now does better than
/// both.)
std::optional<PixelTile> pixelTileOf(const LoweredGrad &g,
                                     const MachineModel &machine) {
  const cnn::shape::Shape &dx = g.output.shape;
  const cnn::shape::Shape &w = g.inputs.at(1).shape;
  const int C = int(dx[1]), H = int(dx[2]), W = int(dx[3]);
  const int kH = int(w[2]), kW = int(w[3]);
  const int natural = machine.floatLanes;
  const bool strided = looksStrided(g);
  // Even tiles need even sides. A tile that does not divide a side still
  // starts at even coordinates: the last one is shifted inwards
  // (TailStrategy::ShiftInwards) and recomputes a few pixels, counted as
  // waste.
  if (!strided || natural < 2 || C % natural != 0 || w[1] != dx[1] ||
      kH * kW > 9 || H % 2 != 0 || W % 2 != 0)
    return std::nullopt;
  const int budget = machine.accumulatorBudget();
  std::optional<PixelTile> best;
  double bestLoads = 0;
  for (int r = 2; r <= H; r += 2)
    for (int c = 2; c <= W; c += 2) {
      if (r * c > budget)
        continue;
      const double loads = double((c + kW - 1) * (r + kH - 1) + kW * kH) /
                           (kW * kH * c * r) * roundingWaste(H, r) *
                           roundingWaste(W, c);
      if (!best || loads < bestLoads) {
        best = PixelTile{c, r};
        bestLoads = loads;
      }
    }
  return best;
}

/// Conv input gradient of a strided conv (PixelTile): vectorised over
/// input channels, parallel over (blocks of one vector of channels, n). Each
/// tile of pixels is one vector accumulator per pixel, in registers over
/// the whole (o, ky, kx) reduction, every tap unrolled, then stored: per
/// output channel, each dy value the tile needs is broadcast once and each
/// tap loads one vector of weights from a copy with the input channels
/// innermost (`Func::in`, made once per call). Each sum runs over (o, ky,
/// kx) in order: deterministic. (Accumulating a whole plane per task
/// instead, 200 KB for ResNet's 56-wide one, made the step no faster: the
/// allocations moved the time into page faults.) Large weights go block by
/// block (convRunsBlockByBlock): parallel over the blocks of channels, each
/// copying its block's weights and running the whole batch; ResNet-18's
/// layer3 and layer4 strided input gradients took 0.89% and 1.48% of a b16
/// train bench's samples streaming the whole copy per image, 0.65% and
/// 0.83% this way (one AVX-512 thread).
void scheduleConvInputGradOverChannels(LoweredGrad &g, const PixelTile &tile,
                                       const MachineModel &machine) {
  const int natural = machine.floatLanes;
  storeIntermediate(g.stored.at(0)); // the zero-padded dy
  Var x = g.vars[0], y = g.vars[1], c = g.vars[2], n = g.vars[3];
  Var co(c.name() + "_o"), ci(c.name() + "_i"),
      slice(c.name() + "_" + n.name()), xo(x.name() + "_o"),
      xi(x.name() + "_i"), yo(y.name() + "_o"), yi(y.name() + "_i");
  Func out = g.output.func;
  const bool blockByBlock = convRunsBlockByBlock(
      g.inputs.at(1).shape, int(g.output.shape[1]), natural, machine);
  out.compute_root()
      .split(c, co, ci, natural)
      .split(x, xo, xi, tile.cols, TailStrategy::ShiftInwards)
      .split(y, yo, yi, tile.rows, TailStrategy::ShiftInwards)
      .vectorize(ci)
      .unroll(xi)
      .unroll(yi);
  if (blockByBlock)
    out.reorder(ci, xi, yi, xo, yo, n, co).parallel(co);
  else
    out.reorder(ci, xi, yi, xo, yo, co, n).fuse(co, n, slice).parallel(slice);
  // One tile's accumulators, in registers over the whole reduction.
  Func accum = g.accum;
  accum.compute_at(out, xo)
      .reorder_storage(c, x, y, n)
      .reorder(c, x, y, n)
      .vectorize(c, natural)
      .unroll(x)
      .unroll(y);
  RVar kx(g.rdom[0]), ky(g.rdom[1]), o(g.rdom[2]);
  accum.update()
      .reorder({c, x, y, kx, ky, o, n})
      .vectorize(c, natural)
      .unroll(x)
      .unroll(y)
      .unroll(kx)
      .unroll(ky);
  Func weights = g.inputs.at(1).func.in(accum);
  std::vector<Var> a = weights.args(); // (kx, ky, ci, o)
  weights.reorder_storage(a[2], a[0], a[1], a[3])
      .reorder(a[2], a[0], a[1], a[3])
      .vectorize(a[2], natural);
  if (blockByBlock)
    weights.compute_at(out, co);
  else
    weights.compute_root().parallel(a[3]);
}

/// The channel-vector tile (channelVectorTile) of a stride-1 conv input
/// gradient, over its input channels; none when the conv looks strided
/// (pixelTileOf's, or the row form where those tiles do not fit), is
/// grouped, or its channels do not fill whole vectors.
std::optional<ChannelVectorTile>
inputGradChannelVectorTile(const LoweredGrad &g, const MachineModel &machine) {
  const cnn::shape::Shape &dx = g.output.shape;
  if (looksStrided(g) || g.inputs.at(1).shape[1] != dx[1])
    return std::nullopt;
  return channelVectorTile(int(dx[3]), int(dx[1]), machine,
                           /*wideRows=*/true);
}

/// Conv input gradient of a stride-1 conv whose input channels fill whole
/// vectors (ResNet's 3x3 convs but the strided ones): the forward's
/// channel-vector schedule (scheduleConvChannelVectors) over the input
/// channels. Each row of a block of channels sums its (o, ky, kx) taps in
/// a register tile of `tile.chunk` pixels by `tile.vectors` vectors of
/// channels, each FMA a broadcast dy value times a vector of weights (from
/// a copy with the input channel innermost), in order: deterministic. The
/// stored dx reads the row's sums back as vectors of x. Large weights go
/// block by block, as in the forward.
void scheduleConvInputGradChannelVectors(LoweredGrad &g,
                                         const ChannelVectorTile &tile,
                                         const MachineModel &machine) {
  const int natural = machine.floatLanes;
  storeIntermediate(g.stored.at(0)); // the zero-padded dy
  Var x = g.vars[0], y = g.vars[1], c = g.vars[2], n = g.vars[3];
  const int W = int(g.output.shape[3]);
  const int block = tile.vectors * natural;
  Var co(c.name() + "_o"), cb(c.name() + "_b"), xo(x.name() + "_o"),
      xi(x.name() + "_i");
  Func out = g.output.func;
  const bool blockByBlock = convRunsBlockByBlock(
      g.inputs.at(1).shape, int(g.output.shape[1]), block, machine);
  storeChannelVectorResult(out, g.vars, W, block, natural);
  if (blockByBlock) {
    out.reorder(xi, xo, cb, y, n, co).parallel(co);
  } else {
    Var cn(c.name() + "_n");
    out.reorder(xi, xo, cb, y, co, n).fuse(co, n, cn).parallel(cn);
  }
  scheduleChannelVectorSums(g.accum, g.vars, g.rdom, tile, W, natural,
                            LoopLevel(out, y));
  storeWeightsChannelInnermost(
      g.inputs.at(1).func.in(g.accum), 2, natural,
      blockByBlock ? std::optional<LoopLevel>(LoopLevel(out, co))
                   : std::nullopt);
}

/// Conv input gradient, stored and parallel over (blocks of channels, n):
/// tiles of one vector of x by a few rows by the channel block, whose
/// independent accumulators stay in registers over the whole (kx, ky, o)
/// reduction; each dy vector load feeds every channel of the block. The
/// tiles round the plane up: the extra pixels are scratch (never read) and
/// read only the stored zero-padded dy (stored[0], its region grows with
/// them; it reads dy clamped; made per image in the parallel loop when one
/// block holds every channel, else in a pass of its own) and weights indexed by
/// the reduction and the (exact) channel block, so nothing outside a buffer is
/// read.
///
/// With the taps of dy's zero rows skipped (a predicate on the reduction's
/// row, see conv2dInputGrad): the plane's rows in as few tiles as the
/// register budget allows, the tiles and the kernel rows unrolled, so that
/// every predicate is a constant and a skipped tap costs nothing; parallel
/// over images, each image's padded dy made in its task. The kernel rows
/// are innermost: the dy vectors of one kx tap then live only while the
/// few rows that read them are summed (outermost, they spilled).
void scheduleConvInputGrad(LoweredGrad &g, const MachineModel &machine) {
  const int natural = machine.floatLanes;
  // Vectors of 4: a vector across dy's edge reads it lane by lane (a clamped
  // gather). No 16-lane vector of LeNet's 10-wide dy rows is clear of the
  // edge (18% of its input gradient's samples); of five 4-lane ones a row,
  // one straddles it.
  Func padded = g.stored.at(0);
  padded.vectorize(padded.args()[0], 4);
  const int W = int(g.output.shape[3]), H = int(g.output.shape[2]);
  const int C = int(g.output.shape[1]);
  const int width = vectorWidth(natural, W);
  const int groupIn = int(g.inputs.at(1).shape[1]);
  const int budget = machine.accumulatorBudget();
  const bool skipsZeroRows = !is_const_one(g.rdom.domain().predicate());
  int rows = 1, block = 1;
  if (skipsZeroRows) {
    // LeNet's conv2: one tile of all 14 rows with AVX-512, two of 7 with
    // AVX2; the largest block of channels that fits beside them.
    const int tiles = (H + budget - 1) / budget;
    rows = (H + tiles - 1) / tiles;
    for (int b = 2; b <= std::min(groupIn, 8); ++b)
      if (groupIn % b == 0 && rows * b <= budget)
        block = b;
  } else {
    // Tile rows x channels: each kx tap loads `rows` dy vectors and `block`
    // weights for rows * block FMAs, so pick the fewest loads per FMA, rows
    // rounding H up counted as waste, with the accumulators within the
    // register budget and the block a divisor of a group's channels (a
    // block within one group reads one group's weights).
    double best = 0;
    for (int r = 1; r <= std::min(H, 8); ++r)
      for (int b = 1; b <= std::min(groupIn, 8); ++b) {
        if (groupIn % b != 0 || r * b > budget)
          continue;
        const double cost = double(r + b) / (r * b) * roundingWaste(H, r);
        if (best == 0 || cost < best) {
          best = cost;
          rows = r;
          block = b;
        }
      }
  }
  Var x = g.vars[0], y = g.vars[1], c = g.vars[2], n = g.vars[3];
  Var xo(x.name() + "_o"), xi(x.name() + "_i"), yo(y.name() + "_o"),
      yi(y.name() + "_i"), co(c.name() + "_o"), ci(c.name() + "_i");

  Func out = g.output.func;
  out.compute_root()
      .vectorize(x, vectorWidth(natural, W), TailStrategy::GuardWithIf)
      .split(c, co, ci, block);
  Func accum = g.accum;
  // Per image when one block holds every channel (LeNet's conv2 without
  // the predicate) or the zero rows are skipped: each image's padded dy is
  // made in its parallel iteration, while it is in cache, rather than in a
  // pass of its own over the batch.
  if (block == C || skipsZeroRows) {
    out.parallel(n);
    padded.compute_at(out, n);
    accum.compute_at(out, co);
  } else {
    Var slice(c.name() + "_" + n.name());
    out.fuse(co, n, slice).parallel(slice);
    storeIntermediate(padded);
    accum.compute_at(out, slice);
  }
  // A static, rounded-up plane: fixed-size storage, constant loop extents.
  const int roundedW = (W + width - 1) / width * width;
  const int roundedH = (H + rows - 1) / rows * rows;
  accum.bound(x, 0, roundedW).bound(y, 0, roundedH);
  accum.split(x, xo, xi, width, TailStrategy::RoundUp).vectorize(xi);
  Stage update = accum.update();
  RVar kx(g.rdom[0]), ky(g.rdom[1]), o(g.rdom[2]);
  update.split(x, xo, xi, width, TailStrategy::RoundUp)
      .split(y, yo, yi, rows, TailStrategy::RoundUp)
      .split(c, co, ci, block);
  if (skipsZeroRows)
    update.reorder({xi, ky, yi, ci, kx, o, xo, yo, co, n})
        .unroll(ky)
        .unroll(yo);
  else
    update.reorder({xi, yi, ci, kx, ky, o, xo, yo, co, n});
  update.vectorize(xi).unroll(yi).unroll(ci);
  // Short kernel rows: unroll the kx taps, so the FMAs are not paced by
  // loop overhead and address arithmetic (as in the forward).
  const int64_t *kw = as_const_int(g.rdom[0].extent());
  if (kw && *kw <= 8)
    update.unroll(kx);
}

/// Linear weight gradient dW(k, o) = sum_n dy(o, n) x(k, n), in tiles of
/// kv vectors of input features k by a block of ob output features,
/// parallel over the o blocks (few, large tasks: a batch of 1 makes a
/// tile's work tiny). A tile's kv x ob vectors are independent accumulators
/// in registers over the whole (serial, in order) reduction over the batch:
/// per sample, kv input vectors and ob broadcast dy values feed kv x ob
/// FMAs. Both tile dims are static extents with ShiftInwards tails (a tile
/// <= the extent; overlapping tiles recompute the same values), so every
/// tile has a constant size and nothing outside a tensor is read.
/// Deterministic: each weight's sum runs over n in order.
///
/// With `update` (the SGD step that reads this gradient), the optimizer is
/// fused into the gradient's only use: the update's outputs are tiled the
/// same way and each gradient tile is computed inside the update's tile
/// loop, consumed while in registers and L1, never stored whole.
void scheduleLinearWeightGrad(LoweredGrad &g, const MachineModel &machine,
                              LoweredGrad *update) {
  Var k = g.vars[0], o = g.vars[1];
  RVar rn(g.rdom.x);
  const int K = int(g.output.shape[1]), O = int(g.output.shape[0]);
  const int natural = machine.floatLanes;
  const int width = wholeVectorWidth(natural, K);
  const int budget = machine.accumulatorBudget();
  // Few input vectors (3 with AVX-512's 24 accumulators, 2 with AVX2's 12)
  // for tall blocks of outputs: each block reads all of x once, and taller
  // blocks make fewer passes (FeedForwardNet's fc1 weight gradient: 12%
  // fewer perf samples, relative to its forward, than in tiles of 6 vectors
  // x 4 outputs). At least 2: a single vector's tile loads a broadcast per
  // FMA.
  const int kv = std::max(1, std::min(K / width, std::max(2, budget / 8)));
  const int ob = std::max(1, std::min(O, budget / kv));
  // Tiles f(k, o) (the gradient's or the update's vars), parallel over the
  // o blocks; returns the loop of one tile.
  auto tile = [&](Func f, Var k, Var o) {
    Var ko(k.name() + "_o"), ki(k.name() + "_i"), kl(k.name() + "_l"),
        oo(o.name() + "_o"), oi(o.name() + "_i");
    f.compute_root()
        .bound(k, 0, K)
        .bound(o, 0, O)
        .split(k, ko, ki, kv * width, TailStrategy::ShiftInwards)
        .split(o, oo, oi, ob, TailStrategy::ShiftInwards)
        .split(ki, ki, kl, width)
        .reorder(kl, ki, oi, ko, oo)
        .vectorize(kl)
        .parallel(oo);
    return ko;
  };
  Func out = g.output.func;
  Var kl(k.name() + "_l");
  LoopLevel tileLoop;
  if (update) {
    out
        .compute_at(storeFusedUpdate(
            *update,
            [&](Func f) { return tile(f, update->vars[0], update->vars[1]); }))
        .split(k, k, kl, width)
        .vectorize(kl);
    tileLoop = LoopLevel(out, Var::outermost());
  } else {
    tileLoop = LoopLevel(out, tile(out, k, o));
  }
  Func accum = g.accum;
  accum.compute_at(tileLoop)
      .split(k, k, kl, width)
      .vectorize(kl)
      .unroll(k)
      .unroll(o);
  accum.update()
      .split(k, k, kl, width)
      .reorder(kl, k, o, rn)
      .vectorize(kl)
      .unroll(k)
      .unroll(o);
}

/// Whether `g` is a max-pool gradient whose windows tile its input (no
/// reduction for dx: each input is in one window).
bool tilesItsInput(const LoweredGrad &g) {
  return g.kind == GradKind::MaxPool2dGrad && !g.accum.defined() &&
         !g.stored.at(0).has_update_definition();
}

/// Whether `g` is a pooling gradient that only broadcasts dy over windows
/// tiling its input (adaptiveAvgPool2dGrad's pure form: a global average
/// pool's): a load and a multiply per element, cheaper to recompute in each
/// reader than to store (conv64's was a 51 MB tensor a b64 step, written
/// and then read twice).
bool isInlinedBroadcast(const LoweredGrad &g) {
  return g.kind == GradKind::AdaptiveAvgPool2dGrad && !g.accum.defined();
}

/// Whether backwardFusion inlines `g` in every reader (rather than computing
/// it in one reader's loops).
bool inlinedInEveryReader(const LoweredGrad &g) {
  return g.kind == GradKind::FlattenGrad || isInlinedBroadcast(g);
}

/// Max-pool gradient of windows that tile the input: the winning taps of a
/// (c, n) plane are computed next to the dx that reads them (while the
/// pooled input is in cache), both along rows in whole vectors (the last
/// one shifted inwards), so dx's reads at x / k are dense loads and
/// shuffles: no gathers, no predicated tails. `dx` (pure args `vars`) is
/// the stored result: the gradient's own, or that of the element-wise
/// gradient it is inlined in.
void scheduleTiledMaxPoolGrad(LoweredGrad &g, Func dx,
                              const std::vector<Var> &vars, int natural) {
  Var x = vars[0], y = vars[1], c = vars[2], n = vars[3];
  const cnn::shape::Shape &shape = g.output.shape;
  Var cn(c.name() + "_" + n.name());
  dx.compute_root()
      .bound(x, 0, int(shape[3]))
      .bound(y, 0, int(shape[2]))
      .bound(c, 0, int(shape[1]))
      .fuse(c, n, cn)
      .parallel(cn);
  if (int width = wholeVectorWidth(natural, shape[3]); width > 1)
    dx.vectorize(x, width, TailStrategy::ShiftInwards);
  Func winner = g.stored.at(0);
  winner.compute_at(dx, cn);
  const int windows = int(g.inputs.at(1).shape[3]);
  if (int width = wholeVectorWidth(natural, windows); width > 1)
    winner.vectorize(winner.args()[0], width, TailStrategy::ShiftInwards);
}

/// Max-pool gradient: the forward's argmax is recomputed per (c, n) plane
/// next to the dx that reads it (while the pooled input is in cache),
/// vectorised over the windows with the taps unrolled; the reduction over
/// the taps stays in (ky, kx) order, so ties still go to the first maximum.
void scheduleMaxPoolGrad(LoweredGrad &g, const LoopLevel &slice, int natural) {
  Func argmax = g.stored.at(0);
  std::vector<Var> args = argmax.args();
  const int width = vectorWidth(natural, g.inputs.at(1).shape.back());
  argmax.compute_at(slice).vectorize(args[0], width, TailStrategy::GuardWithIf);
  std::vector<VarOrRVar> order;
  for (const RVar &r : argmax.rvars(0))
    order.push_back(r);
  for (const Var &v : args)
    order.push_back(v);
  Stage update = argmax.update();
  update.reorder(order).vectorize(args[0], width, TailStrategy::GuardWithIf);
  for (const RVar &r : argmax.rvars(0))
    update.unroll(r);
}

bool isBatchNorm(GradKind kind) {
  return kind == GradKind::BatchNorm2dInputGrad ||
         kind == GradKind::BatchNorm2dWeightGrad ||
         kind == GradKind::BatchNorm2dStatsUpdate;
}

/// Batch norm gradients and update: the per-channel sums as a conv bias
/// gradient's, the per-channel coefficients stored once, and dx an
/// element-wise pass over whole (x, y) planes, parallel over (c, n).
void scheduleBatchNormGrad(LoweredGrad &g, int natural) {
  for (Func &f : g.stored)
    storePerChannel(f, natural);
  if (g.accum.defined())
    schedulePerChannelSum(g.accum, natural);
  if (g.kind == GradKind::BatchNorm2dInputGrad) {
    storePlanes(g.output.func, g.vars, g.output.shape, natural);
    return;
  }
  storeResult(g.output.func, g.vars, g.output.shape, natural);
  for (Tensor &extra : g.extraOutputs)
    storeResult(extra.func, g.vars, extra.shape, natural);
}

/// A reduction's `accum` per slice of its stored result (or at root when
/// the result has no parallel loop), its update vectorised along the
/// innermost pure dim with the reduction loops (in their own order)
/// outside it, then the other pure dims.
void scheduleReductionAt(LoweredGrad &g, const std::optional<Slice> &slice,
                         int natural) {
  Func accum = g.accum;
  if (slice)
    accum.compute_at(slice->level());
  else
    accum.compute_root();
  if (g.vars.empty())
    return; // a serial sum
  const int width = vectorWidth(natural, g.output.shape.back());
  accum.vectorize(g.vars[0], width, TailStrategy::GuardWithIf);
  std::vector<VarOrRVar> order{g.vars[0]};
  for (int i = 0; i < g.rdom.dimensions(); ++i)
    order.push_back(g.rdom[i]);
  for (size_t i = 1; i < g.vars.size(); ++i)
    order.push_back(g.vars[i]);
  Stage update = accum.update();
  update.reorder(order).vectorize(g.vars[0], width, TailStrategy::GuardWithIf);
}

/// Softmax cross-entropy and its gradient: each sample's row max and sum of
/// exponentials computed in the loop over samples that reads them, as the
/// row is used, not stored as results of their own. (Over LeNet's 10
/// classes, each stored part was a loop of a few nanoseconds per sample:
/// the loss and its gradient made ten loops of a training step.)
void scheduleSoftmaxCrossEntropy(LoweredGrad &g, int natural) {
  Func rowMax = g.stored.at(0), sumExp = g.stored.at(1);
  if (g.kind == GradKind::SoftmaxCrossEntropy) {
    Func perSample = g.stored.at(2);
    Var n = perSample.args().at(0);
    perSample.compute_root().parallel(n);
    rowMax.compute_at(perSample, n);
    sumExp.compute_at(perSample, n);
    g.accum.compute_root(); // a serial sum over the batch
    g.output.func.compute_root();
    return;
  }
  std::optional<Slice> slice =
      storeResult(g.output.func, g.vars, g.output.shape, natural);
  rowMax.compute_at(slice->level());
  sumExp.compute_at(slice->level());
}

} // namespace

std::vector<std::optional<size_t>>
backwardFusion(const std::vector<LoweredGrad> &grads,
               const std::vector<Func> &readElsewhere) {
  std::set<std::string> pinned;
  for (const Func &f : readElsewhere)
    pinned.insert(f.name());
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < grads.size(); ++i)
    producer[grads[i].output.func.name()] = i;
  std::vector<std::set<size_t>> readers(grads.size());
  for (size_t r = 0; r < grads.size(); ++r)
    for (const Tensor &t : grads[r].inputs)
      if (auto it = producer.find(t.func.name()); it != producer.end())
        readers[it->second].insert(r);

  std::vector<std::optional<size_t>> into(grads.size());
  std::set<size_t> hasFusedProducer;
  for (size_t p = 0; p < grads.size(); ++p) {
    const LoweredGrad &g = grads[p];
    if (readers[p].empty() || pinned.count(g.output.func.name()))
      continue;
    const size_t first = *readers[p].begin();
    if (isInlinedBroadcast(g)) {
      into[p] = first;
      continue;
    }
    if (g.kind == GradKind::FlattenGrad && g.output.shape.size() == 4) {
      if (std::all_of(readers[p].begin(), readers[p].end(),
                      [&](size_t r) { return tilesItsInput(grads[r]); }))
        into[p] = first;
      continue;
    }
    const bool fusable =
        (g.kind == GradKind::LinearInputGrad || tilesItsInput(g)) &&
        readers[p].size() == 1 &&
        grads[first].kind == GradKind::ElementwiseGrad &&
        grads[first].output.shape == g.output.shape &&
        !hasFusedProducer.count(first);
    if (fusable) {
      into[p] = first;
      hasFusedProducer.insert(first);
    }
  }
  return into;
}

std::vector<std::optional<size_t>>
updatesOfGradients(const std::vector<LoweredGrad> &grads) {
  std::vector<std::optional<size_t>> updateOf(grads.size());
  for (size_t g = 0; g < grads.size(); ++g) {
    if (grads[g].kind != GradKind::Conv2dWeightGrad &&
        grads[g].kind != GradKind::LinearWeightGrad)
      continue;
    for (size_t u = 0; u < grads.size(); ++u)
      if (grads[u].kind == GradKind::SgdUpdate &&
          grads[u].inputs.at(1).func.name() == grads[g].output.func.name())
        updateOf[g] = u;
  }
  return updateOf;
}

void applyDefaultGradientSchedule(std::vector<LoweredGrad> &grads,
                                  const Target &target) {
  std::vector<Func> everyResult;
  for (const LoweredGrad &g : grads)
    everyResult.push_back(g.output.func);
  applyDefaultGradientSchedule(grads, target, everyResult);
}

void applyDefaultGradientSchedule(std::vector<LoweredGrad> &grads,
                                  const Target &target,
                                  const std::vector<Func> &readElsewhere) {
  applyDefaultGradientSchedule(grads, cpuMachineModelOrThrow(target),
                               updatesOfGradients(grads), readElsewhere);
}

void applyDefaultGradientSchedule(
    std::vector<LoweredGrad> &grads, const MachineModel &machine,
    const std::vector<std::optional<size_t>> &updateOf,
    const std::vector<Func> &readElsewhere) {
  const int natural = machine.floatLanes;
  auto updateFor = [&](size_t g) -> LoweredGrad * {
    return updateOf.at(g) ? &grads.at(*updateOf[g]) : nullptr;
  };
  // Gradients computed in their reader's loops, and each reader's one.
  const std::vector<std::optional<size_t>> computedIn =
      backwardFusion(grads, readElsewhere);
  std::map<size_t, size_t> fusedProducerOf;
  for (size_t p = 0; p < grads.size(); ++p)
    if (computedIn[p] && !inlinedInEveryReader(grads[p]))
      fusedProducerOf[*computedIn[p]] = p;
  // SGD updates scheduled with the gradient they read.
  std::set<const LoweredGrad *> fused;
  for (size_t index = 0; index < grads.size(); ++index) {
    LoweredGrad &g = grads[index];
    if (computedIn[index]) { // by its reader, below
      g.output.func.compute_inline();
      continue;
    }
    if (fused.count(&g))
      continue;
    if (isBatchNorm(g.kind)) {
      scheduleBatchNormGrad(g, natural);
      continue;
    }
    if (auto it = fusedProducerOf.find(index); it != fusedProducerOf.end()) {
      LoweredGrad &p = grads[it->second];
      if (tilesItsInput(p)) {
        scheduleTiledMaxPoolGrad(p, g.output.func, g.vars, natural);
      } else { // a linear input gradient, per sample
        scheduleReductionAt(
            p, storeResult(g.output.func, g.vars, g.output.shape, natural),
            natural);
      }
      continue;
    }
    if (tilesItsInput(g)) {
      scheduleTiledMaxPoolGrad(g, g.output.func, g.vars, natural);
      continue;
    }
    if (g.kind == GradKind::SoftmaxCrossEntropy ||
        g.kind == GradKind::SoftmaxCrossEntropyGrad) {
      scheduleSoftmaxCrossEntropy(g, natural);
      continue;
    }
    if (g.kind != GradKind::MaxPool2dGrad &&
        g.kind != GradKind::Conv2dInputGrad)
      for (Func &f : g.stored)
        storeIntermediate(f);
    if (g.kind == GradKind::Conv2dInputGrad) {
      if (std::optional<PixelTile> tile = pixelTileOf(g, machine))
        scheduleConvInputGradOverChannels(g, *tile, machine);
      else if (std::optional<ChannelVectorTile> rowTile =
                   inputGradChannelVectorTile(g, machine))
        scheduleConvInputGradChannelVectors(g, *rowTile, machine);
      else
        scheduleConvInputGrad(g, machine);
      continue;
    }
    if (g.kind == GradKind::Conv2dWeightGrad) {
      LoweredGrad *update = updateFor(index);
      if (std::optional<ChannelTile> tile =
              channelTileOf(g, machine, update != nullptr))
        scheduleConvWeightGradOverChannels(g, *tile, machine, update);
      else
        scheduleConvWeightGrad(g, machine, update);
      if (update)
        fused.insert(update);
      continue;
    }
    if (g.kind == GradKind::LinearWeightGrad) {
      LoweredGrad *update = updateFor(index);
      scheduleLinearWeightGrad(g, machine, update);
      if (update)
        fused.insert(update);
      continue;
    }
    std::optional<Slice> slice =
        storeResult(g.output.func, g.vars, g.output.shape, natural);
    std::optional<Slice> extraSlice;
    for (Tensor &extra : g.extraOutputs)
      extraSlice = storeResult(extra.func, g.vars, extra.shape, natural);
    // SGD with momentum: the new parameter and the new velocity read the same
    // (param, grad, velocity) rows; one shared parallel loop computes both
    // per row, while the row is in cache.
    if (g.kind == GradKind::SgdUpdate && g.extraOutputs.size() == 1 && slice &&
        extraSlice)
      g.output.func.compute_with(extraSlice->f, extraSlice->var);
    if (g.kind == GradKind::MaxPool2dGrad)
      scheduleMaxPoolGrad(g, slice->level(), natural);
    if (!g.accum.defined())
      continue;

    // A conv bias gradient ([N, C, H, W] dy) is a per-channel sum.
    if (g.kind == GradKind::BiasGrad && g.rdom.dimensions() == 3) {
      schedulePerChannelSum(g.accum, natural);
      continue;
    }
    scheduleReductionAt(g, slice, natural);
  }
}

} // namespace cnnc::hl
