// The default CPU schedule of backward ops (Gradients.h), kept apart from
// their algorithms like CpuSchedule.h. Simple and safe, with tuned
// schedules for the conv gradients (the bulk of a CNN's training step).
#ifndef CNNC_HALIDE_GRADIENTSCHEDULE_H
#define CNNC_HALIDE_GRADIENTSCHEDULE_H

#include "cnnc/halide/Gradients.h"
#include "cnnc/halide/MachineModel.h"

#include <Halide.h>

#include <optional>
#include <vector>

namespace cnnc::hl {

/// Schedules every Func of `grads` (the backward ops of one pipeline) for
/// `machine`, correct for any batch size; `updateOf[g]` is the index in
/// `grads` of the SGD update computed with weight gradient g (the fusion
/// plan's updates, see FusionPlan.h):
///  - every result (`output`, `extraOutputs`) not fused (see backward
///    fusion below) is stored (compute_root),
///    vectorised along its innermost dimension (GuardWithIf tails: nothing
///    outside a tensor is computed or read) and parallel over its
///    outermost dimension(s): (c, n) fused for rank 4, the last for rank 2;
///  - `accum` is computed per parallel slice of its result (compute_at; of
///    its reader's result for a fused linear input gradient), its
///    update vectorised along the innermost pure dimension with the
///    reduction loops (in their own order) outside it. Each output element's
///    reduction, including every reduction over the batch (weight / bias
///    gradients, the loss), runs serially inside one parallel iteration: no
///    races, no atomics;
///  - `stored` intermediates (argmax, per-sample losses) are compute_root,
///    parallel over their outermost pure dimension, reductions serial per
///    element; the softmax row statistics are computed per sample in the
///    loop of the loss (or its gradient) that reads them;
///  - backward fusion (backwardFusion): a result read by one element-wise
///    gradient alone (an activation's, a dropout's) is computed in that
///    gradient's loops instead of stored: a linear input gradient per
///    sample, a max-pool gradient of tiling windows inlined (its winning
///    taps per plane); an unflatten read only by max-pool gradients of
///    tiling windows (fused or not) is inlined in them; so is a global
///    average pool's gradient (a broadcast of dy) in every reader;
///  - operand wrappers (boundary conditions, clamps) stay inline;
///  - conv gradients (register-blocked, deterministic: a fixed summation
///    order whatever the thread count):
///    - weight: parallel over (ci, blocks of o); per kernel row ky, an
///      rfactor over output-x lanes, vectorised over them, the kx taps and
///      the o block accumulating in registers over (oy, n), then a sum over
///      the lanes; a strided conv's input stored by phase (every sx-th
///      column together) so that each tap reads dense vectors. With o in
///      whole vectors (ungrouped), rows of up to kWeightGradRowChunk, and
///      whole rows of any width (no chunks: weightGradOverOutputChannels),
///      are vectorised over o instead:
///      tiles of o vectors by taps in registers over the (ox, oy, n) sum,
///      reading a copy of dy with the channels innermost; a block of o
///      whose dy fills L2 with a few images sums the batch in passes of
///      them, the block's tiles parallel within each pass;
///    - input: parallel over (blocks of c, n); tiles of one x vector by a
///      few rows by the c block accumulate in registers over (kx, ky, o),
///      reading the stored zero-padded dy with dense vectors (the tiles
///      round the plane up into scratch: nothing outside a buffer is read).
///      Strided convs with c in whole vectors (ungrouped, at most 3x3) are
///      vectorised over c instead: tiles of pixels of even extents, every
///      tap unrolled (stride 2's taps that miss a pixel pruned), reading a
///      copy of the weights with c innermost;
///    - bias (of [N, C, H, W] dy): rfactor over x lanes as the weight.
///  - max-pool: the argmax is recomputed per (c, n) plane, vectorised over
///    the windows; windows that tile the input need no reduction for dx;
///  - linear weight gradient: tiles of input-feature vectors x a block of
///    output features in registers over the serial, ordered batch sum,
///    parallel over the output blocks;
///  - SGD with momentum: the new parameter and velocity in one loop per row.
/// `readElsewhere`: the results something besides `grads` reads (the
/// pipeline's outputs, forward ops' operands), never fused. Call it once
/// per set of grads.
void applyDefaultGradientSchedule(
    std::vector<LoweredGrad> &grads, const MachineModel &machine,
    const std::vector<std::optional<size_t>> &updateOf,
    const std::vector<Halide::Func> &readElsewhere);

/// The same for ops built without the cnn dialect (tests, tools): each
/// weight gradient's update is the SGD step reading its result, and the
/// machine is `target`'s (a CPU target; anything else throws
/// std::invalid_argument).
void applyDefaultGradientSchedule(
    std::vector<LoweredGrad> &grads, const Halide::Target &target,
    const std::vector<Halide::Func> &readElsewhere);

/// The same with every result of `grads` an output (any may be realized):
/// nothing is fused.
void applyDefaultGradientSchedule(std::vector<LoweredGrad> &grads,
                                  const Halide::Target &target);

/// Backward fusion on a CPU: for each of `grads`, the index in `grads` of
/// the gradient whose loops compute it, when it is not stored:
///  - a linear input gradient or a max-pool gradient of windows that tile
///    their input, read by one element-wise gradient alone, of the same
///    shape (an element-wise gradient takes the first such producer only);
///  - an unflatten read only by max-pool gradients of tiling windows (the
///    first of them), fused or not;
///  - a pooling gradient that only broadcasts dy over tiling windows (a
///    global average pool's), inlined in every reader (returned as its first).
/// Results in `readElsewhere` (read by something besides `grads`) are never
/// fused.
std::vector<std::optional<size_t>>
backwardFusion(const std::vector<LoweredGrad> &grads,
               const std::vector<Halide::Func> &readElsewhere);

/// For each of `grads`, the SGD update in `grads` that reads it, if it is a
/// weight gradient.
std::vector<std::optional<size_t>>
updatesOfGradients(const std::vector<LoweredGrad> &grads);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_GRADIENTSCHEDULE_H
