// The default CPU schedule of the backward ops: stored results, vectorised,
// parallel over independent slices, serial reductions.
#include "cnnc/halide/GradientSchedule.h"

#include <optional>

namespace cnnc::hl {

using namespace Halide;

namespace {

/// As CpuSchedule.cpp: the natural width, halved (not below 4) while half
/// of it still covers the extent.
int vectorWidth(int natural, int64_t extent) {
  int width = natural;
  while (width > 4 && width / 2 >= extent)
    width /= 2;
  return width;
}

/// Stores `f` (a result of shape `shape`, pure args `vars`), vectorised
/// along vars[0] and parallel over its outermost dims. Returns the loop
/// level at which a per-slice producer may be computed (the parallel loop),
/// or nothing when there is none.
std::optional<LoopLevel> storeResult(Func f, const std::vector<Var> &vars,
                                     const cnn::shape::Shape &shape,
                                     int natural) {
  f.compute_root();
  const size_t rank = vars.size();
  if (rank == 0)
    return std::nullopt;
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
  return LoopLevel(f, outer);
}

/// A stored intermediate: compute_root, parallel over its outermost pure
/// var (init and updates; an update's reduction loops stay inside it).
void storeIntermediate(Func f) {
  f.compute_root();
  std::vector<Var> args = f.args();
  if (args.empty())
    return;
  f.parallel(args.back());
  for (int i = 0; i < f.num_update_definitions(); ++i)
    f.update(i).parallel(args.back());
}

} // namespace

void applyDefaultGradientSchedule(std::vector<LoweredGrad> &grads,
                                  const Target &target) {
  const int natural = target.natural_vector_size<float>();
  for (LoweredGrad &g : grads) {
    for (Func &f : g.stored)
      storeIntermediate(f);
    std::optional<LoopLevel> slice =
        storeResult(g.output.func, g.vars, g.output.shape, natural);
    for (Tensor &extra : g.extraOutputs)
      storeResult(extra.func, g.vars, extra.shape, natural);
    if (!g.accum.defined())
      continue;

    Func accum = g.accum;
    if (slice)
      accum.compute_at(*slice);
    else
      accum.compute_root();
    if (g.vars.empty())
      continue; // the loss: a serial sum over the batch
    const int width = vectorWidth(natural, g.output.shape.back());
    accum.vectorize(g.vars[0], width, TailStrategy::GuardWithIf);
    // Update loops, innermost first: the vectorised pure dim, the reduction
    // (in its own order),
    // then the other pure dims.
    std::vector<VarOrRVar> order{g.vars[0]};
    for (int i = 0; i < g.rdom.dimensions(); ++i)
      order.push_back(g.rdom[i]);
    for (size_t i = 1; i < g.vars.size(); ++i)
      order.push_back(g.vars[i]);
    Stage update = accum.update();
    update.reorder(order).vectorize(g.vars[0], width,
                                    TailStrategy::GuardWithIf);
  }
}

} // namespace cnnc::hl
