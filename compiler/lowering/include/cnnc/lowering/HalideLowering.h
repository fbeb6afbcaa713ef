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

} // namespace cnnc

#endif // CNNC_LOWERING_HALIDELOWERING_H
