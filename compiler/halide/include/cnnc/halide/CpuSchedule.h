// The default CPU schedule of a pipeline of lowered ops, kept apart from the
// algorithms (Ops.h) so that other policies (CUDA, autoschedulers, tuned
// register-blocked schedules) can replace it without touching them.
#ifndef CNNC_HALIDE_CPUSCHEDULE_H
#define CNNC_HALIDE_CPUSCHEDULE_H

#include "cnnc/halide/FusionPlan.h"
#include "cnnc/halide/MachineModel.h"
#include "cnnc/halide/Ops.h"

#include <Halide.h>

#include <optional>
#include <vector>

namespace cnnc::hl {

/// Schedules every Func of `ops` (all forward ops of one pipeline, in
/// order) for `machine`: correct for any batch size, vectorised by the
/// machine's float lanes, parallel over batch x channels (or batch x blocks
/// of output features), each of `groups` (the fusion plan's, as indices into
/// `ops`) computed in one loop nest.
///
///  - Each conv / pool computes its reduction per tile of 4 to 6 rows (a
///    divisor of the height where one exists) x one vector of outputs (x a
///    block of output channels for convolutions, its accumulators within
///    the machine's register budget), inside the loops of the tensor it
///    produces (compute_at, accumulators in registers, small kernels' taps
///    unrolled); a padded input is stored once per image. Linear is a tiled
///    GEMM: tiles of output features x samples accumulate in vector lanes
///    over the input features (rfactor), long rows in chunks that stay in L1
///    while a block of samples reads them.
///  - A convolution group computed inside a pool's group (see FusionPlan.h)
///    runs inside the pool's parallel loop, one block of output channels of
///    one image at a time, so its result never goes through memory (the
///    pool's channels are split into the same blocks).
///  - The pointwise ops of a group's chain are computed in its anchor's
///    loops (conv -> add -> relu is stored once): the last op of the chain
///    is the stored tensor; the anchor's own output Func and the inner ones
///    are inlined.
///  - BatchNorm2d is pointwise (x * scale + shift): fused into the conv it
///    alone reads (inference: conv -> bn -> add -> relu is stored once),
///    else stored as whole planes (storePlanes) with the activations after
///    it fused; its per-channel scale, shift and, in training mode, the
///    batch statistics (the op's `stored`) are stored once.
///  - A conv whose output channels fill whole vectors is vectorised over
///    output channels instead when its rows are narrower than a vector
///    (ResNet's 14x14 and 7x7 stages: a whole row of outputs x one or two
///    channel vectors per register tile) or divide into chunks that fill at
///    least half the register budget and it is not computed inside a pool
///    (ResNet's 112-, 56- and 28-wide rows), the weights copied with the
///    output channel innermost once per call. Weights of more than half of
///    L2 are copied and used block by block of output channels instead, the
///    blocks parallel, each over the whole batch; otherwise a padded conv's
///    parallel tasks are bands of an image's rows, each padding its band.
///  - Weight / bias / input wrappers stay inline (read straight from the
///    buffers). Every other op result is stored once (compute_root): it is
///    the next layer's input. Flatten is a dense copy, unless its rows are
///    whole vectors and only linear layers read it: they read it in place.
///  - Tails: the x of a conv / pool result is split with ShiftInwards (the
///    last vector moves back to end at the last column; Halide 14 runs a
///    GuardWithIf vector tail as scalar code) by the widest power of two
///    that fits, with bound(x, 0, W) so the whole width is always computed;
///    every split that touches a tensor's run-time extent (the batch) is
///    GuardWithIf, RoundUp only over exact divisors. Nothing is
///    computed or read outside the tensors' real extents, so batch 1 and odd
///    sizes are fine.
///
/// Call it once per set of ops (Halide schedules can not be re-split).
void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const MachineModel &machine,
                             const std::vector<fusion::Group> &groups,
                             const std::vector<Halide::Func> &pipelineOutputs);

/// The same for ops built without the cnn dialect (tests, tools): the
/// fusion plan is made from the lowered ops' own graph, `pipelineOutputs`
/// (default: the last op's output) are never fused away, and the machine is
/// `target`'s (a CPU target; anything else throws std::invalid_argument).
/// Every Func that reads an op's result must be an op in `ops` or be one of
/// `pipelineOutputs`.
void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const Halide::Target &target);
void applyDefaultCpuSchedule(std::vector<LoweredOp> &ops,
                             const Halide::Target &target,
                             const std::vector<Halide::Func> &pipelineOutputs);

/// The fusion plan's groups of `ops` (see FusionPlan.h), their graph read
/// from the Funcs each op reads; `pipelineOutputs` are read outside.
std::vector<fusion::Group>
planGroups(const std::vector<LoweredOp> &ops,
           const std::vector<Halide::Func> &pipelineOutputs);

/// The register tile of a convolution vectorised over the channels of its
/// result (scheduleConvChannelVectors, over a conv's output channels;
/// scheduleConvInputGradChannelVectors, over an input gradient's input
/// channels): `chunk` pixels of a row by `vectors` vectors of channels.
struct ChannelVectorTile {
  int vectors = 1;
  int chunk = 1;
};

/// The channel-vector tile of a result of `C` channels in rows `W` wide,
/// or none where vectors of x serve it better: channels that do not fill
/// whole vectors, rows a vector wide or wider unless `wideRows`, and wide
/// rows with no chunk as below (a prime width, say).
///
/// Rows narrower than a vector (ResNet's 14x14 and 7x7 stages), with
/// channels that fill whole vectors: vectors of x would be mostly empty.
/// The tile is a whole row by one or two vectors (two where 2 x W
/// accumulators fit: ResNet's 14-wide rows measured 10% faster as 14 x 1
/// than as 7 x 2, each weight vector loaded from L2 feeding 14 FMAs). A
/// conv with such a tile is stored whole even where the fusion plan
/// computes it inside its pool: inside the pool's loops it would have to
/// use vectors of x (LeNet's 10-wide conv2 ran at a quarter of the FMA peak
/// that way, against most of it stored with channel vectors).
///
/// Rows of a vector or wider (ResNet's 112-, 56- and 28-wide ones, conv64),
/// with `wideRows` (a conv outside a pool): chunks of the row that divide
/// it, by two vectors where the channels fill two, the chunk the largest
/// divisor of W within the register budget and filling at least half of it
/// (8 of 56 by 2 vectors on AVX-512). On AVX-512 vectors of x would cover a
/// 56-wide row with four, the last one shifted over half of the third
/// (12.5% of the FMAs repeated), and read the stem's stride-2 rows with
/// strided loads. ResNet-18's 56-, 28- and 112-wide convs ran 6-31% faster
/// this way (perf samples of a b16 forward, one AVX-512 thread), conv64's
/// forward at batch 1 about 10%; on one AVX2 thread, whose vectors of 8 fit
/// those rows exactly, ResNet-18's forward still ran 5% faster, conv64's
/// the same.
std::optional<ChannelVectorTile>
channelVectorTile(int W, int C, const MachineModel &machine, bool wideRows);

/// Whether a conv or conv input gradient vectorised over the channels of
/// its result, with weights of `weightShape` and `channels` result
/// channels in blocks of `block`, runs block by block: weights of more than
/// half of L2 (ResNet's 256- and 512-channel convs: 2.4 and 9.4 MB), with
/// at least 8 blocks to share among the threads. Each block's weights are
/// then copied into a dense buffer and used for the whole batch.
bool convRunsBlockByBlock(const cnn::shape::Shape &weightShape, int channels,
                          int block, const MachineModel &machine);

/// Stores the result `f` (over `vars`: x, y, c, n) of channel-vector sums
/// (scheduleChannelVectorSums) whole, in rows `W` wide: c split into blocks
/// of `block` channels (c_o, c_b), each row of a block vectorised along x
/// (x_o, x_i; the last vector shifted inwards), reading the block's sums
/// back. The caller orders the loops and makes them parallel.
void storeChannelVectorResult(Halide::Func f,
                              const std::vector<Halide::Var> &vars, int W,
                              int block, int natural);

/// The sums of a channel-vector conv (scheduleConvChannelVectors) or input
/// gradient (scheduleConvInputGradChannelVectors): `accum` over (x, y, c, n)
/// (`vars`), reducing over `rdom` (taps innermost), computed one row at a
/// time at `row` and stored channel-innermost; its update in chunks of
/// `tile.chunk` pixels of the row by `tile.vectors` vectors of channels, the
/// chunk's accumulators in registers over the whole reduction (taps of
/// kernel rows of up to 8 unrolled).
void scheduleChannelVectorSums(Halide::Func accum,
                               const std::vector<Halide::Var> &vars,
                               const Halide::RDom &rdom,
                               const ChannelVectorTile &tile, int W,
                               int natural, const Halide::LoopLevel &row);

/// A copy of conv weights (kx, ky, ci, o) read by channel-vector sums, with
/// `channel` (2: ci, 3: o) innermost so that a vector of those channels is
/// one dense load: each vector's worth of channels copied walking their
/// runs of the OIHW weights in order (16 streams read in sequence, not a
/// gather across the whole tensor per vector). Once per call, parallel
/// over those vectors; or, block by block, at `perBlock` (that block's).
void storeWeightsChannelInnermost(
    Halide::Func weights, int channel, int natural,
    const std::optional<Halide::LoopLevel> &perBlock);

/// The model of `target`, which must be a CPU target cnnc schedules (else
/// std::invalid_argument).
MachineModel cpuMachineModelOrThrow(const Halide::Target &target);

/// An element-wise [N, C, H, W] result f(x, y, c, n) with static H, W,
/// stored once: each (H, W) plane is one contiguous loop vectorised by the
/// natural width (the last vector shifted back into the plane, so no scalar
/// tail; the whole plane is always computed), parallel over (c, n).
void storePlanes(Halide::Func f, const std::vector<Halide::Var> &vars,
                 const cnn::shape::Shape &shape, int natural);

/// A per-channel sum f(c) = 0, then f(c) += e(x, y, c, n) over an RDom
/// (x, y, n) (a conv bias gradient, batch norm's statistics and gradient
/// sums): stored once; partial sums in vector lanes over x (rfactor),
/// parallel over c, then a sum over the lanes. The summation order is
/// fixed: deterministic whatever the thread count.
void schedulePerChannelSum(Halide::Func f, int natural);

/// Partial sums in vector lanes: rfactors the reduction `sums` over a row
/// `rx` of `extent` pixels into a Func with an extra `lane` dim of `lanes`
/// (a row longer than `lanes` is split into chunks, GuardWithIf, and the
/// chunk loop appended to `order`, the caller's update loop order, which
/// starts with `lane`). Returns the partial-sum Func; the caller schedules it.
Halide::Func rfactorOverLanes(Halide::Stage sums, Halide::RVar rx, int extent,
                              int lanes, Halide::Var lane,
                              std::vector<Halide::VarOrRVar> &order);

/// A small Func f(c) stored once: a per-channel sum as above, or a pure
/// Func vectorised over c.
void storePerChannel(Halide::Func f, int natural);

/// A stored intermediate: compute_root, parallel over its outermost pure
/// var (init and updates; an update's reduction loops stay inside it).
void storeIntermediate(Halide::Func f);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_CPUSCHEDULE_H
