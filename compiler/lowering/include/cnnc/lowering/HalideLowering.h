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

enum class SchedulePolicy { Manual };

struct LoweredPipeline {
  Halide::Pipeline pipeline;
  /// Input, then the parameters in cnn.parameter order; the output buffer
  /// is appended by Halide when compiling.
  std::vector<Halide::Argument> arguments;
};

/// Lowers `func @forward` of `module`. On failure returns false and sets
/// `error` (Halide's exceptions do not escape).
bool lowerForward(mlir::ModuleOp module, const Halide::Target &target,
                  SchedulePolicy policy, LoweredPipeline &result,
                  std::string &error);

/// Lowers `func @train_step` (built by cnn-autodiff). Arguments: input,
/// labels (int64), every parameter, the momentum buffer of each trainable
/// parameter, then the scalars lr, momentum, weight_decay, nesterov (bool),
/// first_step (bool). Outputs: the loss (0-d), the new value of each
/// trainable parameter, then the new momentum buffer of each.
bool lowerTrainStep(mlir::ModuleOp module, const Halide::Target &target,
                    SchedulePolicy policy, LoweredPipeline &result,
                    std::string &error);

} // namespace cnnc

#endif // CNNC_LOWERING_HALIDELOWERING_H
