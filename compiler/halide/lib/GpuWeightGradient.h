// The GPU schedules' warp-tiled kernel for a convolution's weight gradient
// (not installed, not public): partial sums over parts of the rows, each a
// warp whose lanes are output channels (docs/gpu.md).
#ifndef CNNC_HALIDE_LIB_GPUWEIGHTGRADIENT_H
#define CNNC_HALIDE_LIB_GPUWEIGHTGRADIENT_H

#include "cnn/ShapeRules.h"
#include "cnnc/halide/MachineModel.h"

#include "Halide.h"

namespace cnnc::hl::gpu {

/// Splits `accum`, a convolution's weight gradient w(kx, ky, ci, o) summed
/// over (x, y, n) of `dy` and `source` (the input, or the input behind its
/// zero padding; `weightShape` [O, C/groups, KH, KW]), into partial sums
/// over parts of the rows, each part stored by one warp-tiled kernel (a
/// block is a warp of gpu.warpLanes output channels, each lane
/// accumulating the taps of a few input channels of its channel in
/// registers; the warp stages a row of dy and the rows of `source` the
/// taps read in shared memory). `accum` then sums the parts, in their
/// order, wherever the caller computes it. Returns false, and leaves
/// `accum` as it was, where the gradient is not of that form: groups, a
/// number of output channels that is not a multiple of gpu.warpLanes,
/// kernel rows of more than gpu.laneTileAccumulators taps, a sum that is
/// not over (x, y, n) of static rows, an input read by phase, or staged
/// rows that would not fit in gpu.stagedInputBytes. `source` is
/// then read through its staged rows only (a padded input need not be
/// stored).
bool reduceWeightGradInWarps(Halide::Func accum, const Halide::Func &source,
                             const Halide::Func &dy,
                             const cnn::shape::Shape &weightShape, int groups,
                             const GpuModel &gpu);

} // namespace cnnc::hl::gpu

#endif // CNNC_HALIDE_LIB_GPUWEIGHTGRADIENT_H
