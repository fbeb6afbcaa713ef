// The GPU schedules (CUDA and OpenCL), siblings of the CPU ones behind the
// backend seam (Backend.h): the same algorithms and the same fusion plan,
// every stage run on the device.
#ifndef CNNC_HALIDE_GPUSCHEDULE_H
#define CNNC_HALIDE_GPUSCHEDULE_H

#include "cnnc/halide/Backend.h"

namespace cnnc::hl {

/// Schedules every Func of `request` for the GPU `machine` describes
/// (machine.gpu set), so that no stage of the pipeline runs on the host:
///
///  - Each fusion group is one kernel over its stored tensor: the chain's
///    pointwise ops are inlined. A convolution whose output channels fill
///    warps (gpu->warpLanes) is warp-tiled, as Halide's apps/conv_layer
///    does: a block is a warp of output channels, each lane a tile of
///    pixels (gpu->laneTileAccumulators) of its channel, the input staged
///    in shared memory a chunk of channels at a time and the weights read
///    transposed (a kernel of their own); but a 1x1 or grouped one. Other
///    convolutions' threads each accumulate a register tile of output
///    channels (gpu->channelTile) of one pixel, or
///    of several rows where the input is not staged
///    (gpu->accumulatorsPerThread). A convolution whose blocks are 32
///    pixels wide stages its input in shared memory a chunk of input
///    channels at a time (gpu->stagedInputBytes), padding it as it loads;
///    another padded input (the input within a border of the padding
///    value) is written by a kernel of its own. An unpadded convolution
///    read only by a pool with non-overlapping windows is computed in the
///    pool's kernel, each thread a tile of channels over its window. Where
///    the group's batch statistics also read the convolution's result
///    (batch norm in training), that result is stored, register-tiled the
///    same way. Other anchors (pools, linear) run a thread per element
///    (all dimensions fused, blocks of gpu->threadsPerBlock threads) that
///    sums its reduction in registers; a flatten only linear layers read
///    is read in place (readsFlattenInPlace).
///  - Convolution input gradients are warp- or channel-tiled like the
///    forward convolution (a strided one's channel-tiled); other gradients,
///    per-channel intermediates and batch statistics are kernels of one thread
///    per element, each summing in registers. A sum over the batch with few
///    results (weight gradients, statistics) is first split into partial sums
///    over rows (rfactor), stored by a kernel of their own; a convolution's
///    weight gradient sums its parts warp-tiled where its output channels
///    fill warps (GpuWeightGradient.h), else in register tiles (taps along x
///    x a block of output channels); a reduction read only by one
///    per-channel result (a statistic's sum, its mean) is summed in that
///    result's threads. Every summation order is fixed, so results do not
///    depend on the launch (no atomics).
///  - Backward fusion as on the CPU (backwardFusion): flatten, broadcast
///    and tiling max-pool gradients are inlined in their readers; a linear
///    layer's input gradient is summed in the threads of the element-wise
///    gradient that reads it.
///  - An SGD step writes the parameter and its momentum in one kernel; a
///    convolution's or linear layer's weight or bias gradient is summed in
///    that kernel's threads (request.updateOf), one per weight, where the
///    weights' shape allows threads along their innermost dimensions
///    (else the gradient keeps a kernel of its own).
///  - The softmax cross-entropy is a kernel of a thread per sample, then
///    one thread (the loss); its gradient a thread per logit.
void applyGpuSchedule(const ScheduleRequest &request,
                      const MachineModel &machine);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_GPUSCHEDULE_H
