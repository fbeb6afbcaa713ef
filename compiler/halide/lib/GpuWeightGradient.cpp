#include "GpuWeightGradient.h"

#include "GpuConvolution.h"
#include "GpuKernels.h"

#include <optional>

namespace cnnc::hl::gpu {

using Halide::Func;
using Halide::RVar;
using Halide::Stage;
using Halide::TailStrategy;
using Halide::Var;
using Halide::VarOrRVar;

namespace {

/// How a weight gradient's partial sums are warp-tiled: each lane
/// accumulates kW x `kernelRows` taps of `channels` input channels of its
/// output channel (a block's warp sums the kernel's groups of rows one
/// after the other), adding `pixels` pixels of a row per unrolled
/// iteration;
/// the rows are summed in `parts` parts of `rowsPerPart` rows (a divisor of
/// the rows). The warp stages dy and the input of a part of an image at a
/// time.
struct WarpWeightGradTiling {
  int channels = 1, kernelRows = 1, pixels = 1;
  int rowsPerPart = 1, parts = 1;
  /// The staged dy's row stride and rows per channel, padded so that the
  /// 32 lanes' reads of their channels at one pixel hit distinct banks: a
  /// channel's floats 4 more than a multiple of 8 where rows are read as
  /// vectors of 4 (rows of 4 more than a multiple of 8 floats, an odd
  /// number of them), else odd.
  int dyRowStride = 1, dyRows = 1;
};

int oddAtLeast(int n) { return n % 2 == 0 ? n + 1 : n; }

/// The row stride of the staged dy (see WarpWeightGradTiling).
int conflictFreeStride(int width, bool vectors) {
  if (!vectors)
    return oddAtLeast(width);
  int stride = width;
  while (stride % 8 != 4)
    ++stride;
  return stride;
}

/// The pixels of a row a lane adds per unrolled iteration: the largest
/// divisor of the row's `width` up to 16, a multiple of 4 where the row is
/// (so that a lane's staged dy, and the staged input rows, are read as
/// vectors of 4).
int pixelsPerIteration(int width) {
  if (width % 4 == 0)
    return 4 * largestDivisorAtMost(width / 4, 4);
  return largestDivisorAtMost(width, 16);
}

/// The floats a warp of `t` stages for a part of an image: dy (padded, see
/// WarpWeightGradTiling) and the input its taps read, rows padded to 4
/// floats. Nothing where Halide's bounds of the input are not constant.
std::optional<int64_t> stagedFloats(const Func &accum, const Func &source,
                                    const cnn::shape::Shape &weightShape,
                                    const WarpWeightGradTiling &t, int width,
                                    const GpuModel &gpu) {
  const std::optional<std::vector<int64_t>> input =
      extentsRead(accum, source.name(),
                  {weightShape[3], t.kernelRows, t.channels, gpu.warpLanes},
                  {width, t.rowsPerPart, 1});
  if (!input || input->size() != 4)
    return std::nullopt;
  return int64_t(t.dyRowStride) * t.dyRows * gpu.warpLanes +
         ((*input)[0] + 3) / 4 * 4 * (*input)[1] * (*input)[2] * (*input)[3];
}

std::optional<WarpWeightGradTiling>
warpWeightGradTilingOf(const Func &accum, const Func &source,
                       const cnn::shape::Shape &weightShape, int groups,
                       const GpuModel &gpu) {
  const int64_t O = weightShape[0], C = weightShape[1], kH = weightShape[2],
                kW = weightShape[3];
  const std::vector<Halide::Internal::ReductionVariable> &rvars =
      accum.function().update(0).schedule().rvars();
  // (x, y) of static extents, then the run-time batch.
  if (groups != 1 || O % gpu.warpLanes != 0 || rvars.size() != 3 ||
      source.dimensions() != 4 || kW > gpu.laneTileAccumulators)
    return std::nullopt;
  const int64_t *W = Halide::Internal::as_const_int(rvars[0].extent);
  const int64_t *H = Halide::Internal::as_const_int(rvars[1].extent);
  if (!W || !H || Halide::Internal::as_const_int(rvars[2].extent))
    return std::nullopt;
  WarpWeightGradTiling t;
  t.kernelRows = largestDivisorAtMost(
      kH, int(std::min<int64_t>(kH, gpu.laneTileAccumulators / kW)));
  t.channels = largestDivisorAtMost(
      C, int(gpu.laneTileAccumulators / (kW * t.kernelRows)));
  t.pixels = pixelsPerIteration(int(*W));
  t.dyRowStride = conflictFreeStride(int(*W), t.pixels % 4 == 0);
  // Parts enough for about gpu.partialSumThreads threads in all.
  const int64_t warps = (O / gpu.warpLanes) * (C / t.channels);
  const int64_t wanted = gpu.partialSumThreads / gpu.warpLanes;
  const int64_t parts =
      std::clamp<int64_t>((wanted + warps - 1) / warps, 1, *H);
  // Whole parts (a guarded last part would leave the rows staged in it
  // unbounded: Halide bounds them by the unguarded loop), of one row where
  // a larger part's rows would not fit.
  const int64_t limit = gpu.stagedInputBytes / int64_t(sizeof(float));
  for (int rows :
       {largestDivisorAtMost(*H, int((*H + parts - 1) / parts)), 1}) {
    t.rowsPerPart = rows;
    t.parts = int(*H / rows);
    t.dyRows = oddAtLeast(rows);
    const std::optional<int64_t> floats =
        stagedFloats(accum, source, weightShape, t, int(*W), gpu);
    if (!floats)
      return std::nullopt;
    if (*floats <= limit)
      return t;
  }
  return std::nullopt;
}

/// Stores the partial sums `stored` (kx, ky, ci, o, part) of `partial`
/// (their sum, over (x, rows of the part, n)) tiled by `t`: a block is a
/// warp of output channels, lanes its channels.
void storeWarpTiledPartials(Func stored, Func partial, const Func &source,
                            const Func &dy,
                            const cnn::shape::Shape &weightShape,
                            const WarpWeightGradTiling &t,
                            const GpuModel &gpu) {
  const std::vector<Var> v = stored.args();
  // Exactly the gradient, so that every block's tile is a constant box.
  stored.compute_root()
      .bound(v[0], 0, int(weightShape[3]))
      .bound(v[1], 0, int(weightShape[2]))
      .bound(v[2], 0, int(weightShape[1]))
      .bound(v[3], 0, int(weightShape[0]))
      .bound(v[4], 0, t.parts);
  // A second thread dimension of one thread, so that Halide synchronises
  // the warp around its staged rows (see storeWarpTiled). The groups of
  // kernel rows are a loop in the block, not blocks: a block index fused
  // from two (CUDA has three) would have Halide stage the input rows of
  // every group, its bounds of the inner index's remainder not narrowing.
  Var kyo("kyo"), kyi("kyi"), cio("cio"), cii("cii"), co("co"), lane("ol"),
      one("one");
  stored.split(v[1], kyo, kyi, t.kernelRows)
      .split(v[2], cio, cii, t.channels)
      .split(v[3], co, lane, gpu.warpLanes)
      .reorder(v[0], kyi, cii, lane, kyo, cio, co, v[4])
      .split(kyo, kyo, one, 1)
      .unroll(v[0])
      .unroll(kyi)
      .unroll(cii)
      .gpu_blocks(cio, co, v[4])
      .gpu_threads(one);
  onLanes(stored, lane, gpu);
  // The warp's accumulators, output channels innermost: on CUDA each
  // lane's are in its registers.
  const std::vector<Var> a = partial.args();
  partial.compute_at(stored, kyo)
      .reorder_storage(a[3], a[0], a[1], a[2], a[4])
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2]);
  if (gpu.api == GpuModel::Api::Cuda)
    partial.store_in(Halide::MemoryType::Register);
  onLanes(partial, a[3], gpu);
  const std::vector<VarOrRVar> r = reductionVarsOf(partial); // x, row, n
  RVar xo("rxo"), xi("rxi");
  Stage sums = partial.update();
  sums.split(r[0], xo, xi, t.pixels, TailStrategy::GuardWithIf)
      .reorder({a[0], a[1], a[2], xi, a[3], xo, r[1], r[2], a[4]})
      .unroll(a[0])
      .unroll(a[1])
      .unroll(a[2])
      .unroll(xi);
  onLanes(sums, a[3], gpu);
  // The part's rows of dy for the warp's channels and the rows of the
  // input their taps read, an image at a time, loaded by the lanes
  // together (consecutive lanes along x: coalesced) before the lanes sum
  // them. (Where a part has several rows, the lanes read the staged input
  // at addresses that vary with the row: LLVM's load vectorizer merges
  // those, not constant ones.)
  Func dyRows = Func(dy).in(partial);
  dyRows.compute_at(partial, r[2].rvar)
      .align_storage(dyRows.args()[0], t.dyRowStride)
      .align_storage(dyRows.args()[1], t.dyRows);
  Func inputRows = Func(source).in(partial);
  inputRows.compute_at(partial, r[2].rvar)
      .align_storage(inputRows.args()[0], 4);
  for (Func staged : {dyRows, inputRows}) {
    const std::vector<Var> s = staged.args();
    Var p("p"), po("po"), pi("pi");
    staged.fuse(s[0], s[1], p)
        .fuse(p, s[2], p)
        .split(p, po, pi, gpu.warpLanes, TailStrategy::GuardWithIf)
        .reorder(pi, po, s[3]);
    onLanes(staged, pi, gpu);
  }
}

} // namespace

bool reduceWeightGradInWarps(Func accum, const Func &source, const Func &dy,
                             const cnn::shape::Shape &weightShape, int groups,
                             const GpuModel &gpu) {
  const std::optional<WarpWeightGradTiling> t =
      warpWeightGradTilingOf(accum, source, weightShape, groups, gpu);
  if (!t)
    return false;
  const std::vector<Halide::Internal::ReductionVariable> &rvars =
      accum.function().update(0).schedule().rvars();
  RVar rows(rvars[1].var), outer("ro"), inner("ri");
  Var part("part");
  Stage update = accum.update();
  update.split(rows, outer, inner, t->rowsPerPart, TailStrategy::GuardWithIf);
  Func partial = update.rfactor(outer, part);
  storeWarpTiledPartials(partial.in(), partial, source, dy, weightShape, *t,
                         gpu);
  return true;
}

} // namespace cnnc::hl::gpu
