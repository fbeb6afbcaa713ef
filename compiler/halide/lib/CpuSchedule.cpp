// The default CPU schedule: correct for every batch size, vectorised,
// parallel, register-blocked like Halide's apps/conv_layer, with activations
// fused into their producers and convolutions into the pools that read them.
#include "cnnc/halide/CpuSchedule.h"
#include "cnnc/halide/Backend.h"

#include "Common.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

namespace cnnc::hl {

using namespace Halide;

namespace {

using detail::vectorWidth;
using detail::wholeVectorWidth;

/// The most bands of rows (of ceil(H / 8) rows each) a padded
/// channel-vector conv splits each image into, its parallel tasks
/// (scheduleConvChannelVectors). Of 2, 4 and 8, 8 ran conv64's b1 forward
/// fastest on two threads, whose second core was at times slower.
constexpr int kMaxRowBandsPerImage = 8;

/// The stored tensor of a group: the op's result, or the last activation
/// fused into it. `op` is the op whose algorithm is scheduled, `root` the op
/// whose output Func is stored (the same op when nothing is fused).
struct Group {
  LoweredOp *op;
  LoweredOp *root;
};

/// The register tile of a window result: one vector of `width` x outputs
/// by `rows` rows by `block` output channels.
struct WindowTile {
  int width = 1;
  int rows = 1;
  int block = 1;
};

WindowTile windowTile(const Group &g, const MachineModel &machine) {
  const int natural = machine.floatLanes;
  WindowTile t;
  t.width = wholeVectorWidth(natural, g.root->output.shape[3]);
  // A tile of `rows` x one vector of outputs: independent accumulators, so
  // the FMAs of the reduction do not wait on each other's latency. 4 rows,
  // or 5 or 6 when that divides the height (no guarded, partial last tile).
  const int64_t H = g.root->output.shape[2];
  t.rows = int(std::min<int64_t>(4, H));
  if (H % 4 != 0)
    for (int r : {5, 6})
      if (H % r == 0) {
        t.rows = r;
        break;
      }
  // Convolutions also block output channels: each input vector loaded then
  // feeds `block` channels' accumulators (rows x block of them, within
  // the machine's accumulator budget).
  const int64_t C = g.root->output.shape[1];
  if (g.op->kind == OpKind::Conv2d) {
    const int budget = machine.accumulatorBudget();
    for (int d = int(std::min<int64_t>(C, 8)); d >= 1; --d)
      if (C % d == 0 && d * t.rows <= budget) {
        t.block = d;
        break;
      }
  }
  return t;
}

/// A padded input (detail::paddedInput) stored at `at`: once per image
/// inside the batch loop, for the whole batch at the root, or a band of
/// rows inside a parallel task's loop (the window its loops read). Rows
/// are vectorised (the last vector predicated), parallel over channels
/// unless `at` is itself a parallel task's loop.
void storePadded(Func padded, const LoopLevel &at, int natural,
                 bool parallel = true) {
  Var px = padded.args()[0], pc = padded.args()[2];
  padded.compute_at(at).vectorize(px, natural, TailStrategy::GuardWithIf);
  if (parallel)
    padded.parallel(pc);
}

/// The channel-vector tile of a conv group (channelVectorTile, over its
/// output channels), or none where vectors of x serve it better
/// (scheduleWindowed): other ops, grouped convs, and wide rows computed
/// inside a pool.
std::optional<ChannelVectorTile>
convGroupChannelVectorTile(const Group &g, const MachineModel &machine,
                           bool insidePool) {
  const LoweredOp &op = *g.op;
  if (op.kind != OpKind::Conv2d)
    return std::nullopt;
  const bool grouped = op.inputs[1].shape[1] != op.inputs[0].shape[1];
  if (grouped)
    return std::nullopt;
  return channelVectorTile(int(g.root->output.shape[3]),
                           int(g.root->output.shape[1]), machine,
                           /*wideRows=*/!insidePool);
}

/// A conv vectorised over output channels (as oneDNN's blocked layouts
/// are): a register tile of `tile.chunk` outputs of a row by one or two
/// vectors of channels, each FMA a broadcast input value times a vector of
/// weights. The weights are first copied with the output channel innermost
/// (reorder_storage), so that vector is one dense load. A row's sums are
/// stored channel-innermost too; the stored result (with its fused batch
/// norm, add, activation) reads them back as vectors of x, one row at a
/// time.
void scheduleConvChannelVectors(const Group &g, const ChannelVectorTile &tile,
                                const MachineModel &machine) {
  const int natural = machine.floatLanes;
  LoweredOp &op = *g.op;
  Func root = g.root->output.func;
  Var x = g.root->vars[0], y = g.root->vars[1], c = g.root->vars[2],
      n = g.root->vars[3];
  const int W = int(g.root->output.shape[3]);
  const int block = tile.vectors * natural;

  Var co(c.name() + "_o"), cb(c.name() + "_b"), xo(x.name() + "_o"),
      xi(x.name() + "_i");
  // Weights of more than half of L2 (ResNet's 256- and 512-channel convs:
  // 2.4 and 9.4 MB) do not stay there beside an image's input, and in the
  // whole copy (output channel innermost) a block's vectors lie a whole row
  // of output channels apart (1-2 KiB: few cache sets). Such a conv runs
  // block by block instead, each task copying its block's weights into a
  // dense buffer and convolving the whole batch with them (the padded input
  // stored for the whole batch first, read once per block: at batch 256
  // ResNet's layer3 reads 16 x 67 MB for 59 GFLOP). ResNet-18's 14- and
  // 7-wide convs ran 15-42% faster this way (perf samples of a b16 forward,
  // one AVX-512 thread). Only with enough blocks to share among the threads
  // (without padding the images were parallel tasks too): the 128-channel
  // convs (0.6 MB, 4 blocks of 32) stay image by image (in bands of rows
  // where padded), and measured the same either way.
  const bool blockByBlock = convRunsBlockByBlock(
      op.inputs[1].shape, int(g.root->output.shape[1]), block, machine);
  storeChannelVectorResult(root, g.root->vars, W, block, natural);
  Var row = y;
  if (blockByBlock) {
    root.reorder(xi, xo, cb, y, n, co).parallel(co);
    if (op.padded.defined())
      storePadded(op.padded, LoopLevel::root(), natural);
  } else if (op.padded.defined()) {
    // Bands of an image's rows are the parallel tasks, each padding its own
    // band (and the kernel's halo) of every input channel and computing
    // all blocks of channels over it. Tasks over blocks of channels each
    // read a padded image both threads had written half of: on a 2-vCPU
    // VM, in phases where its second core ran such code slower, conv64's
    // b1 forward took 0.645 ms that way and 0.547 in bands (means of 81
    // alternating runs; 0.49-0.51 either way otherwise).
    const int H = int(g.root->output.shape[2]);
    const int rows = (H + kMaxRowBandsPerImage - 1) / kMaxRowBandsPerImage;
    Var yo(y.name() + "_o"), yi(y.name() + "_i"), band(y.name() + "_band");
    root.split(y, yo, yi, rows, TailStrategy::GuardWithIf)
        .reorder(xi, xo, cb, yi, co, yo, n)
        .fuse(yo, n, band)
        .parallel(band);
    storePadded(op.padded, LoopLevel(root, band), natural,
                /*parallel=*/false);
    row = yi;
  } else {
    Var cn(c.name() + "_n");
    root.reorder(xi, xo, cb, y, co, n).fuse(co, n, cn).parallel(cn);
  }

  scheduleChannelVectorSums(op.accum, op.vars, op.rdom, tile, W, natural,
                            LoopLevel(root, row));
  storeWeightsChannelInnermost(
      op.inputs[1].func.in(op.accum), 3, natural,
      blockByBlock ? std::optional<LoopLevel>(LoopLevel(root, co))
                   : std::nullopt);
}

/// [N, C, H, W] tensors produced by a window (conv, pools): the stored
/// tensor loops over (n, c) in parallel, then tiles of 4 rows x one vector
/// of x (guarded tails); the reduction runs per tile with its 4 vector
/// accumulators in registers. A padded input is materialised once per
/// image (in parallel over its channels) so that the inner loops read it
/// without clamps or selects; n is then a serial loop around it and only c
/// is parallel, unless all output channels make one block (LeNet's first
/// conv): then each parallel task pads and convolves one image.
///
/// With a `producer` (a conv group the fusion plan computes inside this
/// pool, fusion::Group::computedInside), the pool's channels are split into the
/// conv's channel blocks and the conv computes one block of one image, all of
/// its rows, inside each parallel (block, n) iteration, right before the pool
/// reads it: the conv's result never makes a round trip through memory.
void scheduleWindowed(const Group &g, const MachineModel &machine,
                      const Group *producer = nullptr,
                      std::optional<LoopLevel> at = std::nullopt) {
  const int natural = machine.floatLanes;
  LoweredOp &op = *g.op;
  Func root = g.root->output.func;
  Var x = g.root->vars[0], y = g.root->vars[1], c = g.root->vars[2],
      n = g.root->vars[3];
  const int64_t W = g.root->output.shape[3];
  WindowTile tile = windowTile(g, machine);
  const int width = tile.width, rows = tile.rows;
  const int block =
      producer ? windowTile(*producer, machine).block : tile.block;

  const bool oneChannelBlock = g.root->output.shape[1] <= block;

  Var xo(x.name() + "_o"), xi(x.name() + "_i"), yo(y.name() + "_o"),
      yi(y.name() + "_i"), co(c.name() + "_o"), cb(c.name() + "_b");
  // The full width is always computed (bound), so the shifted last vector
  // stays inside the tensor and only recomputes a few of its points, whatever
  // region the readers ask for.
  if (at)
    root.compute_at(*at);
  else
    root.compute_root();
  // A pool reading a fused conv guards its last vector instead: Halide 14
  // emits aligned moves for strided loads from an internal buffer at the
  // shifted (even, not vector-aligned) offsets, which crash.
  root.bound(x, 0, int(W))
      .split(x, xo, xi, width,
             producer ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
      .split(y, yo, yi, rows, TailStrategy::GuardWithIf)
      .split(c, co, cb, block)
      .reorder(xi, yi, cb, xo, yo, co, n)
      .vectorize(xi);
  if (at) {
    // Inside its reader's parallel loop: one block of one image, serial.
    // Rows padded to whole vectors: Halide 14 reads an internal buffer
    // with aligned vector moves that assume it (a crash otherwise when the
    // pool's strided loads meet an odd row length).
    root.align_storage(x, natural);
  } else if (op.padded.defined() && !oneChannelBlock) {
    // The padded image is made per n (below), so n stays a serial loop.
    root.parallel(co);
  } else if (op.padded.defined()) {
    // No parallelism over one block: over images, each padded in its task.
    root.parallel(n);
  } else {
    Var cn(c.name() + "_n");
    root.fuse(co, n, cn).parallel(cn);
    if (producer)
      scheduleWindowed(*producer, machine, nullptr, LoopLevel(root, cn));
  }

  Var ax = op.vars[0], ay = op.vars[1], ac = op.vars[2];
  op.accum.compute_at(root, xo)
      .vectorize(ax, width, TailStrategy::GuardWithIf)
      .unroll(ay, rows, TailStrategy::GuardWithIf)
      .unroll(ac, block, TailStrategy::RoundUp);
  std::vector<VarOrRVar> order{ax, ay, ac};
  for (int i = 0; i < op.rdom.dimensions(); ++i)
    order.push_back(op.rdom[i]);
  op.accum.update()
      .reorder(order)
      .vectorize(ax, width, TailStrategy::GuardWithIf)
      .unroll(ay, rows, TailStrategy::GuardWithIf)
      .unroll(ac, block, TailStrategy::RoundUp);
  // Small windows: unroll the taps (kx, and ky up to 7x7), so that the
  // FMAs are not paced by loop overhead.
  auto taps = [&](int i) {
    const int64_t *e = as_const_int(op.rdom[i].extent());
    return e ? *e : int64_t(0);
  };
  const int64_t kw = op.rdom.dimensions() >= 1 ? taps(0) : 0;
  const int64_t kh = op.rdom.dimensions() >= 2 ? taps(1) : 0;
  if (kw >= 1 && kw <= 8) {
    op.accum.update().unroll(op.rdom[0]);
    if (kh >= 1 && kw * kh <= 49)
      op.accum.update().unroll(op.rdom[1]);
  }

  if (op.padded.defined())
    storePadded(op.padded, LoopLevel(root, n), natural,
                /*parallel=*/!oneChannelBlock);
}

/// [N, F] results of Linear, as tiles of (a block of output features) x
/// (a block of samples), parallel over the tiles. Each dot product
/// accumulates in vector lanes over the contiguous input features (an
/// rfactor); a tile's bo x bn lane vectors are independent accumulators in
/// registers, so each weight vector loaded feeds bn samples and each input
/// vector bo output features. At the end each sum's lanes are added up
/// with one vector reduction, not a scalar loop (FeedForwardNet's forward
/// at batch 64: 0.083 ms against 0.100).
///
/// Output-feature blocks are ShiftInwards (the last block overlaps the one
/// before; bo <= out features), so their size is a constant. The batch is a
/// run-time extent (possibly 1): its blocks are GuardWithIf, and the lane
/// accumulators' unrolled samples are guarded, so nothing past the batch is
/// read; the tile's lane storage has a constant upper bound (stack).
///
/// Long rows (>= 32 vectors of input features) go in chunks of 16 vectors,
/// over tiles of bo outputs x 30 samples: the bo weight rows of a chunk stay
/// in L1 while the tile's 10 register blocks of samples read them.
void scheduleLinear(const Group &g, const MachineModel &machine) {
  const int natural = machine.floatLanes;
  LoweredOp &op = *g.op;
  Func root = g.root->output.func;
  Var o = g.root->vars[0], n = g.root->vars[1];
  const int64_t outFeatures = g.root->output.shape[1];
  const int64_t features = op.inputs[0].shape[1];
  const bool lanesPath = features >= natural;
  // Accumulators: bo x bn vectors, within the register budget, the rest
  // for the loaded operands.
  const int budget = machine.accumulatorBudget();
  const int bn = lanesPath ? 3 : 1;
  const int bo =
      int(std::min<int64_t>(lanesPath ? budget / bn : 8, outFeatures));
  // Long rows: chunks of `chunk` vectors of input features, so that a full
  // block's weight chunk (budget / bn rows) fills a quarter of L1 and stays
  // there while every block of samples reads it (16 vectors with AVX-512).
  const int chunk = int(std::max<int64_t>(
      1, machine.l1DataBytes / 4 / ((budget / bn) * machine.vectorBytes())));
  const bool chunked = lanesPath && features >= 2 * chunk * natural;

  Var oo(o.name() + "_o"), oi(o.name() + "_i"), no(n.name() + "_o"),
      ni(n.name() + "_i"), t(o.name() + "_t");
  root.compute_root().split(o, oo, oi, bo, TailStrategy::ShiftInwards);
  // Tiles of bo outputs x nb samples: a register tile's samples, or with
  // chunks, 10 register tiles that reuse each weight chunk (their lanes
  // within Halide's 16 KiB limit of a stack allocation).
  const int nb = chunked ? bn * 10 : bn;
  root.split(n, no, ni, nb, TailStrategy::GuardWithIf)
      .reorder(oi, ni, oo, no)
      .fuse(oo, no, t)
      .parallel(t);
  op.accum.compute_at(root, oi);

  if (lanesPath) {
    RVar ko(op.rdom.x.name() + "_o"), ki(op.rdom.x.name() + "_i");
    Var u(o.name() + "_lane");
    // The guarded tail is a predicate of the intermediate's reduction, so
    // lanes past in_features are never read.
    Func lanes =
        op.accum.update()
            .split(op.rdom.x, ko, ki, natural, TailStrategy::GuardWithIf)
            .rfactor(ki, u);
    Var lo = op.vars[0], ln = op.vars[1];
    Var lno(ln.name() + "_o"), lni(ln.name() + "_i");
    lanes.compute_at(root, t)
        .reorder_storage(u, lo, ln) // lanes contiguous: dense vector stores
        .vectorize(u)
        .unroll(lo);
    // The last block of samples may be short, so a tile's size is dynamic
    // but bounded (by 16 x 8 x 30 floats): on the stack (a heap allocation
    // per tile otherwise).
    lanes.store_in(MemoryType::Stack);
    Stage update = lanes.update();
    update.split(ln, lno, lni, bn, TailStrategy::GuardWithIf);
    if (chunked) {
      RVar kc(op.rdom.x.name() + "_c"), kk(op.rdom.x.name() + "_k");
      update.split(ko, kc, kk, chunk, TailStrategy::GuardWithIf)
          .reorder(u, lo, lni, kk, lno, kc);
    } else {
      update.reorder(u, lo, lni, ko, lno);
    }
    update.vectorize(u).unroll(lo).unroll(lni);
    // atomic(): the sum's store does not depend on ki, so Halide vectorises
    // it only as a reduction (VectorReduce), which it must be told is safe.
    op.accum.update().atomic().vectorize(ki);
  }
}

/// Element-wise results (standalone activations and adds): stored once,
/// vectorised over the innermost dim, parallel over the outer ones.
void scheduleElementwise(const Group &g, int natural) {
  Func root = g.root->output.func;
  const std::vector<Var> &v = g.root->vars;
  const int rank = int(v.size());
  const int width = vectorWidth(natural, g.root->output.shape[rank - 1]);
  Var inner = v[0];
  Var xo(inner.name() + "_o"), xi(inner.name() + "_i");
  root.compute_root()
      .split(inner, xo, xi, width, TailStrategy::GuardWithIf)
      .vectorize(xi);
  if (rank >= 4) {
    Var cn(v[rank - 2].name() + "_t");
    root.fuse(v[rank - 2], v[rank - 1], cn).parallel(cn);
  } else if (rank >= 2) {
    root.parallel(v[rank - 1]);
  }
}

/// Flatten (and activations fused after it): a copy in C order, parallel
/// over the batch. For an [N, C, H, W] input, splitting f into (c, y, x)
/// loops of extents (C, H, W) lets Halide simplify the f % W, f / W ... of
/// the algorithm away, so rows are copied with dense vector loads instead
/// of gathers. (Not called for a flatten read in place: see
/// readsFlattenInPlace.)
void scheduleFlatten(const Group &g, int natural) {
  Func root = g.root->output.func;
  Var f = g.root->vars[0], n = g.root->vars[1];
  const cnn::shape::Shape &in = g.op->inputs[0].shape;
  root.compute_root().parallel(n);
  if (in.size() == 4 && in[3] >= 4) {
    const int h = int(in[2]), w = int(in[3]);
    Var fo(f.name() + "_o"), fx(f.name() + "_x"), fy(f.name() + "_y"),
        fc(f.name() + "_c");
    // f's extent is C * H * W, so neither split has a tail. A row that
    // fits in one vector is one vector of exactly W lanes: with more lanes
    // (predicated off) the simplifier could not prove the divisions exact.
    // A longer row's last vector shifts back to end at the row's end (dense
    // loads, where a guarded tail was a predicated gather).
    root.split(f, fo, fx, w, TailStrategy::GuardWithIf)
        .split(fo, fc, fy, h, TailStrategy::GuardWithIf);
    if (w <= natural)
      root.vectorize(fx);
    else
      root.vectorize(fx, natural, TailStrategy::ShiftInwards);
  } else {
    root.vectorize(f, natural, TailStrategy::GuardWithIf);
  }
}

} // namespace

void storePlanes(Func f, const std::vector<Var> &vars,
                 const cnn::shape::Shape &shape, int natural) {
  Var x = vars[0], y = vars[1], c = vars[2], n = vars[3];
  const int H = int(shape[2]), W = int(shape[3]);
  Var xy(x.name() + "_" + y.name()), cn(c.name() + "_" + n.name());
  // Whole planes (bound), so the last vector may shift back into the plane.
  f.compute_root()
      .bound(x, 0, W)
      .bound(y, 0, H)
      .fuse(x, y, xy)
      .fuse(c, n, cn)
      .parallel(cn);
  if (H * W >= natural) {
    Var o(xy.name() + "_o"), i(xy.name() + "_i");
    f.split(xy, o, i, natural, TailStrategy::ShiftInwards).vectorize(i);
  } else {
    f.vectorize(xy, vectorWidth(natural, H * W), TailStrategy::GuardWithIf);
  }
}

void storeIntermediate(Func f) {
  f.compute_root();
  std::vector<Var> args = f.args();
  if (args.empty())
    return;
  f.parallel(args.back());
  for (int i = 0; i < f.num_update_definitions(); ++i)
    f.update(i).parallel(args.back());
}

Func rfactorOverLanes(Stage sums, RVar rx, int extent, int lanes, Var lane,
                      std::vector<VarOrRVar> &order) {
  if (lanes == extent)
    return sums.rfactor(rx, lane);
  RVar rxo(rx.name() + "_o"), rxi(rx.name() + "_i");
  sums.split(rx, rxo, rxi, lanes); // GuardWithIf: an RVar
  order.push_back(rxo);
  return sums.rfactor(rxi, lane);
}

namespace {

/// Global average pooling (one window per plane: the end of ResNet-18 and
/// of the conv64 benchmark): each plane's rows summed as vectors of partial
/// sums over x (rfactor), then across the lanes; parallel over (c, n). As a
/// windowed op it would be a scalar sum per channel.
void scheduleGlobalAvgPool(const Group &g, int natural) {
  LoweredOp &op = *g.op;
  Func root = g.root->output.func;
  Var c = g.root->vars[2], n = g.root->vars[3], cn(c.name() + "_n");
  root.compute_root().fuse(c, n, cn).parallel(cn);
  op.accum.compute_at(root, cn);
  RVar rx(op.rdom[0]), ry(op.rdom[1]);
  const int kW = int(*as_const_int(op.rdom[0].extent()));
  const int lanes = detail::reductionLanes(kW, natural);
  Var lane(op.accum.name() + "_lane");
  std::vector<VarOrRVar> order{lane};
  Func partial =
      rfactorOverLanes(op.accum.update(), rx, kW, lanes, lane, order);
  order.push_back(ry);
  partial.compute_at(root, cn);
  Stage pu = partial.update();
  pu.reorder(order);
  if (lanes > 1) {
    partial.vectorize(lane, lanes);
    pu.vectorize(lane, lanes);
  }
}

} // namespace

void schedulePerChannelSum(Func f, int natural) {
  f.compute_root();
  Var c = f.args()[0];
  // The update's own reduction variables (Func::rvars gives RVars without
  // their domain, so no extent).
  const std::vector<Internal::ReductionVariable> &r =
      f.function().update(0).schedule().rvars();
  if (r.size() != 3 || !as_const_int(r[0].extent))
    throw std::invalid_argument("schedule: " + f.name() +
                                " is not a per-channel sum over (x, y, n)");
  RVar rx(r[0].var), ry(r[1].var), rn(r[2].var);
  const int W = int(*as_const_int(r[0].extent));
  const int lanes = detail::reductionLanes(W, natural);
  Var lane(f.name() + "_lane");
  std::vector<VarOrRVar> order{lane};
  Func partial = rfactorOverLanes(f.update(), rx, W, lanes, lane, order);
  order.push_back(ry);
  order.push_back(rn);
  order.push_back(c);
  partial.compute_root().reorder_storage(lane, c);
  Stage pu = partial.update();
  pu.reorder(order).parallel(c);
  partial.parallel(c);
  if (lanes > 1) {
    partial.vectorize(lane, lanes);
    pu.vectorize(lane, lanes);
  }
}

void storePerChannel(Func f, int natural) {
  if (f.has_update_definition()) {
    schedulePerChannelSum(f, natural);
    return;
  }
  f.compute_root().vectorize(f.args()[0], natural, TailStrategy::GuardWithIf);
}

/// The fewest blocks of channels a conv or conv input gradient with large
/// weights runs block by block with (convRunsBlockByBlock): its only
/// parallel tasks.
constexpr int kMinParallelBlocks = 8;

std::optional<ChannelVectorTile>
channelVectorTile(int W, int C, const MachineModel &machine, bool wideRows) {
  const int natural = machine.floatLanes;
  if (C % natural != 0)
    return std::nullopt;
  const int budget = machine.accumulatorBudget();
  const bool twoVectors = C % (2 * natural) == 0;
  if (W < natural)
    return ChannelVectorTile{twoVectors && 2 * W <= budget ? 2 : 1, W};
  if (!wideRows)
    return std::nullopt;
  const int vectors = twoVectors ? 2 : 1;
  for (int chunk = budget / vectors; 2 * chunk * vectors >= budget; --chunk)
    if (W % chunk == 0)
      return ChannelVectorTile{vectors, chunk};
  return std::nullopt;
}

bool convRunsBlockByBlock(const cnn::shape::Shape &weightShape, int channels,
                          int block, const MachineModel &machine) {
  const int64_t weightBytes = weightShape[0] * weightShape[1] * weightShape[2] *
                              weightShape[3] * int64_t(sizeof(float));
  return weightBytes > machine.l2Bytes / 2 &&
         channels / block >= kMinParallelBlocks;
}

void storeChannelVectorResult(Func f, const std::vector<Var> &vars, int W,
                              int block, int natural) {
  Var x = vars[0], c = vars[2];
  f.compute_root()
      .bound(x, 0, W)
      .split(c, Var(c.name() + "_o"), Var(c.name() + "_b"), block)
      .split(x, Var(x.name() + "_o"), Var(x.name() + "_i"),
             wholeVectorWidth(natural, W), TailStrategy::ShiftInwards)
      .vectorize(Var(x.name() + "_i"));
}

void scheduleChannelVectorSums(Func accum, const std::vector<Var> &vars,
                               const RDom &rdom, const ChannelVectorTile &tile,
                               int W, int natural, const LoopLevel &row) {
  Var x = vars[0], y = vars[1], c = vars[2], n = vars[3];
  Var co(c.name() + "_o"), ci(c.name() + "_i");
  accum.compute_at(row)
      .reorder_storage(c, x, y, n)
      .split(c, co, ci, natural)
      .reorder(ci, x, co)
      .vectorize(ci)
      .unroll(co);
  if (tile.chunk == W)
    accum.unroll(x);
  Var xo(x.name() + "_o"), xi(x.name() + "_i");
  std::vector<VarOrRVar> order{ci, xi, co};
  for (int i = 0; i < rdom.dimensions(); ++i)
    order.push_back(rdom[i]);
  order.push_back(xo);
  accum.update()
      .split(c, co, ci, natural)
      .split(x, xo, xi, tile.chunk)
      .reorder(order)
      .vectorize(ci)
      .unroll(xi)
      .unroll(co);
  // A kernel row of taps per loop iteration (3 for ResNet's 3x3).
  if (const int64_t *kw = as_const_int(rdom[0].extent()); kw && *kw <= 8)
    accum.update().unroll(rdom[0]);
}

void storeWeightsChannelInnermost(Func weights, int channel, int natural,
                                  const std::optional<LoopLevel> &perBlock) {
  std::vector<Var> w = weights.args(); // (kx, ky, ci, o)
  const Var inner = w[size_t(channel)], other = w[size_t(5 - channel)];
  Var wo(inner.name() + "_o"), wi(inner.name() + "_i");
  weights.reorder_storage(inner, w[0], w[1], other)
      .split(inner, wo, wi, natural)
      .reorder(wi, w[0], w[1], other, wo)
      .vectorize(wi);
  if (perBlock)
    weights.compute_at(*perBlock);
  else
    weights.compute_root().parallel(wo);
}

MachineModel cpuMachineModelOrThrow(const Target &target) {
  std::string error;
  std::optional<MachineModel> model = cpuMachineModel(target, error);
  if (!model)
    throw std::invalid_argument("schedule: target " + target.to_string() + " " +
                                error);
  return *model;
}

std::vector<fusion::Group>
planGroups(const std::vector<LoweredOp> &ops,
           const std::vector<Func> &pipelineOutputs) {
  // Ops by the name of the Func they produce (names are unique).
  std::map<std::string, int> producer;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].output.func.defined())
      throw std::invalid_argument(std::string("schedule: ") +
                                  opKindName(ops[i].kind) +
                                  " op has no output Func");
    producer[ops[i].output.func.name()] = int(i);
  }
  std::set<std::string> outputs;
  for (const Func &f : pipelineOutputs)
    outputs.insert(f.name());
  std::vector<fusion::Node> nodes(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const LoweredOp &op = ops[i];
    fusion::Node &node = nodes[i];
    node.role = op.kind == OpKind::Conv2d ? fusion::Role::Convolution
                : op.kind == OpKind::MaxPool2d || op.kind == OpKind::AvgPool2d
                    ? fusion::Role::Pool
                : isElementwise(op.kind) && !op.readsWholeInput
                    ? fusion::Role::Pointwise
                    : fusion::Role::Forward;
    node.padded = op.padded.defined();
    node.isOutput = outputs.count(op.output.func.name()) > 0;
    for (const Tensor &t : op.inputs)
      if (auto it = producer.find(t.func.name()); it != producer.end())
        node.operands.push_back(it->second);
  }
  return fusion::plan(nodes).groups;
}

void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const Target &target) {
  std::vector<Func> outputs;
  if (!ops.empty())
    outputs.push_back(ops.back().output.func);
  applyDefaultCpuSchedule(ops, target, outputs);
}

void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops, const Target &target,
                             const std::vector<Func> &pipelineOutputs) {
  applyDefaultCpuSchedule(ops, cpuMachineModelOrThrow(target),
                          planGroups(ops, pipelineOutputs), pipelineOutputs);
}

void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const MachineModel &machine,
                             const std::vector<fusion::Group> &plan,
                             const std::vector<Func> &pipelineOutputs) {
  const int natural = machine.floatLanes;
  for (const LoweredOp &op : ops)
    if (!op.output.func.defined())
      throw std::invalid_argument(std::string("schedule: ") +
                                  opKindName(op.kind) +
                                  " op has no output Func");

  // Every member of a group's chain is computed in its anchor's loops: only
  // the last result is stored, the others are inlined. A fused batch norm's
  // per-channel scale and shift (and statistics) are computed once, not per
  // element.
  std::vector<Group> groups;
  for (const fusion::Group &planned : plan) {
    LoweredOp *previous = &ops.at(size_t(planned.anchor));
    for (int member : planned.chain) {
      previous->output.func.compute_inline();
      previous = &ops.at(size_t(member));
      for (Func &f : previous->stored)
        storePerChannel(f, natural);
    }
    groups.push_back(
        {&ops[size_t(planned.anchor)], &ops[size_t(planned.stored())]});
  }

  // A conv group computed inside a pool's loops, keyed by the pool's op.
  std::map<const LoweredOp *, const Group *> fusedProducer;
  for (size_t g = 0; g < plan.size(); ++g)
    if (plan[g].computedInside &&
        !convGroupChannelVectorTile(groups[g], machine, /*insidePool=*/true))
      fusedProducer[groups.at(size_t(*plan[g].computedInside)).op] = &groups[g];
  std::set<const LoweredOp *> scheduledByReader;
  for (const auto &entry : fusedProducer)
    scheduledByReader.insert(entry.second->op);

  for (const Group &g : groups) {
    if (scheduledByReader.count(g.op))
      continue;
    switch (g.op->kind) {
    case OpKind::Conv2d:
      if (std::optional<ChannelVectorTile> tile =
              convGroupChannelVectorTile(g, machine, /*insidePool=*/false)) {
        scheduleConvChannelVectors(g, *tile, machine);
        break;
      }
      [[fallthrough]];
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::AdaptiveMaxPool2d:
      // (A conv falls through to here too.)
      if (g.op->kind == OpKind::AdaptiveAvgPool2d && g.root == g.op &&
          g.op->output.shape[2] == 1 && g.op->output.shape[3] == 1 &&
          !fusedProducer.count(g.op)) {
        scheduleGlobalAvgPool(g, natural);
        break;
      }
      [[fallthrough]];
    case OpKind::MaxPool2d:
    case OpKind::AvgPool2d: {
      auto it = fusedProducer.find(g.op);
      scheduleWindowed(g, machine,
                       it == fusedProducer.end() ? nullptr : it->second);
      break;
    }
    case OpKind::Linear:
      scheduleLinear(g, machine);
      break;
    case OpKind::Elementwise:
    case OpKind::Pad2d:  // a copy with a border, stored like an activation
    case OpKind::Concat: // copies side by side, likewise
      scheduleElementwise(g, natural);
      break;
    case OpKind::Softmax: // its maximum and sum once, then element-wise
      for (Func &f : g.op->stored)
        storeIntermediate(f);
      scheduleElementwise(g, natural);
      break;
    case OpKind::Flatten:
      if (!readsFlattenInPlace(ops,
                               size_t(plan[size_t(&g - groups.data())].anchor),
                               plan, pipelineOutputs, machine))
        scheduleFlatten(g, natural);
      break;
    case OpKind::BatchNorm2d:
      for (Func &f : g.op->stored)
        storePerChannel(f, natural);
      storePlanes(g.root->output.func, g.root->vars, g.root->output.shape,
                  natural);
      break;
    }
  }
}

} // namespace cnnc::hl
