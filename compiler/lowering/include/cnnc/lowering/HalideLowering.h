// Lowering of `func @forward` (cnn dialect) to one Halide pipeline: each op
// becomes the Funcs of its family's algorithm builder (compiler/halide), then
// a schedule policy is applied to all of them at once.
#ifndef CNNC_LOWERING_HALIDELOWERING_H
#define CNNC_LOWERING_HALIDELOWERING_H

#include "mlir/IR/BuiltinOps.h"

#include <Halide.h>

#include <string>
#include <vector>

namespace cnnc {

/// How the pipelines are scheduled: the hand-written default schedules
/// (CpuSchedule.h, GradientSchedule.h), or one of Halide 14's autoscheduler
/// plugins (Mullapudi2016, Li2018), loaded on first use from the
/// directory found at configure time (or $CNNC_AUTOSCHEDULER_DIR).
struct SchedulePolicy {
  enum class Kind { Manual, Auto };
  Kind kind = Kind::Manual;
  /// For Kind::Auto: "Mullapudi2016" or "Li2018".
  std::string autoscheduler;
  /// The batch size the autoschedulers optimise for (the batch is dynamic).
  int batchEstimate = 64;

  static SchedulePolicy manual() { return {}; }
  static SchedulePolicy automatic(std::string name, int batchEstimate = 64) {
    return {Kind::Auto, std::move(name), batchEstimate};
  }
  bool isAuto() const { return kind == Kind::Auto; }
};

/// The autoscheduler names `SchedulePolicy::autoscheduler` accepts.
const std::vector<std::string> &availableAutoschedulers();

struct LoweredPipeline {
  Halide::Pipeline pipeline;
  /// Input, then the parameters in cnn.parameter order; the output buffer
  /// is appended by Halide when compiling.
  std::vector<Halide::Argument> arguments;
};

/// Lowers `func @forward` of `module`. On failure returns false and sets
/// `error` (Halide's exceptions do not escape).
bool lowerForward(mlir::ModuleOp module, const Halide::Target &target,
                  const SchedulePolicy &policy, LoweredPipeline &result,
                  std::string &error);

/// Lowers `func @train_step` (built by cnn-autodiff). Arguments: input,
/// labels (int64), every parameter, the momentum buffer of each trainable
/// parameter, then the scalars lr, momentum, weight_decay, nesterov (bool),
/// first_step (bool). Outputs: the loss (0-d), the new value of each
/// trainable parameter, then the new momentum buffer of each, then the new
/// running_mean and running_var of each cnn.batchnorm2d_stats_update, in
/// op order.
bool lowerTrainStep(mlir::ModuleOp module, const Halide::Target &target,
                    const SchedulePolicy &policy, LoweredPipeline &result,
                    std::string &error);

} // namespace cnnc

#endif // CNNC_LOWERING_HALIDELOWERING_H
