// Lowering of a cnn function (`@forward`, `@train_step`) to Halide: each op
// becomes the Funcs of its family's algorithm builder (compiler/halide), then
// a schedule policy is applied to all of them at once; long functions are
// split into segments, one pipeline each (Segmentation.h).
#ifndef CNNC_LOWERING_HALIDELOWERING_H
#define CNNC_LOWERING_HALIDELOWERING_H

#include "cnnc/lowering/ModelAbi.h"
#include "cnnc/lowering/Segmentation.h"

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
  /// How the manual schedules' functions are cut into pipeline segments
  /// (planSegments); the autoschedulers always see one pipeline.
  SegmentSizes segments;

  static SchedulePolicy manual() { return {}; }
  static SchedulePolicy automatic(std::string name, int batchEstimate = 64) {
    return {Kind::Auto, std::move(name), batchEstimate, {}};
  }
  bool isAuto() const { return kind == Kind::Auto; }
};

/// The autoscheduler names `SchedulePolicy::autoscheduler` accepts.
const std::vector<std::string> &availableAutoschedulers();

/// The ops of the cnn dialect that have no Halide lowering (see
/// compiler/lowering/OpLowerings.h): empty when every op has one.
std::vector<std::string> opsWithoutHalideLowering();

/// A value computed by one segment of a pipeline and read by a later one:
/// a dense float32 tensor that the caller stores between the segments.
struct IntermediateTensor {
  std::vector<int64_t> shape; // PyTorch order; -1 is the batch
};

/// One Halide pipeline of a lowered function (see Segmentation.h).
struct PipelineSegment {
  Halide::Pipeline pipeline;
  /// The function's arguments, then the intermediates it reads (`reads`).
  /// Halide appends the output buffers (`writes`) when compiling.
  std::vector<Halide::Argument> arguments;
  /// Indices into LoweredPipeline::intermediates.
  std::vector<int> reads;
  /// The segment's outputs in order: >= 0 the function's output of that
  /// index, < 0 the intermediate -1 - value.
  std::vector<int> writes;
};

/// An op of a lowered function as the profiler reports it: the Funcs named
/// `funcPrefix`, or `funcPrefix` followed by "_", are its.
struct ProfiledOp {
  std::string funcPrefix; // "conv1", "conv1_conv2d_weight_grad"
  std::string name;       // "conv1", "conv1 conv2d_weight_grad", "conv1.weight"
  std::string op;         // the cnn op ("conv2d_weight_grad"; "parameter")
  int64_t flopsPerSample = 0; // cnn::FlopCountOp's; 0: not counted
};

/// A function lowered to Halide: its segments run in order compute what
/// one pipeline with `arguments` and `numOutputs` output buffers would.
struct LoweredPipeline {
  /// The function's arguments in the order of its PipelineAbi.
  std::vector<Halide::Argument> arguments;
  /// Its PipelineAbi's outputs; segments write them by index.
  int numOutputs = 0;
  std::vector<PipelineSegment> segments;
  std::vector<IntermediateTensor> intermediates;
  /// Every op and parameter of the function, once.
  std::vector<ProfiledOp> profiledOps;
};

/// Lowers `func @forward` of `module`, its arguments and outputs as
/// `abi.forward` lists them, scheduled by the target's backend
/// (cnnc/halide/Backend.h; a target without one, a GPU, is an error) or by
/// the policy's autoscheduler. On failure returns false and sets `error`
/// (Halide's exceptions do not escape).
bool lowerForward(mlir::ModuleOp module, const ModelAbi &abi,
                  const Halide::Target &target, const SchedulePolicy &policy,
                  LoweredPipeline &result, std::string &error);

/// Lowers `func @train_step` (built by cnn-autodiff), its arguments and
/// outputs as `abi.train` lists them (see ModelAbi.h).
bool lowerTrainStep(mlir::ModuleOp module, const ModelAbi &abi,
                    const Halide::Target &target, const SchedulePolicy &policy,
                    LoweredPipeline &result, std::string &error);

} // namespace cnnc

#endif // CNNC_LOWERING_HALIDELOWERING_H
