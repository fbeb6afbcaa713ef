// The C side of a generated library: the generic wrapper's sources
// (compiler/driver/wrapper, embedded in cnnc at build time) and the one
// file cnnc generates per model, model_tables.h: the model's shapes and
// parameters, its pipelines' argv entry points, and the order of their
// arguments and outputs (ModelAbi.h), which the wrapper walks.
#ifndef CNNC_DRIVER_WRAPPERTABLES_H
#define CNNC_DRIVER_WRAPPERTABLES_H

#include "cnnc/driver/ModelDescription.h"

#include <string>
#include <utility>
#include <vector>

namespace cnnc {

/// The Halide functions a library's ABI calls (their argv entry points are
/// <name>_argv): the forward pass; optionally one for batches below
/// `smallBatchBelow` (an autoscheduled forward pass needs at least its
/// batch estimate); the training step if the model has one.
struct WrapperPipelines {
  std::string forward;
  std::string smallForward;
  int64_t smallBatchBelow = 0;
  std::string train;
  /// A GPU library's API, whose driver the wrapper loads (gpu_driver.c):
  /// "" for a CPU library, "CUDA" or "OPENCL".
  std::string gpuApi;
  /// For CUDA: the register limit per thread given to the driver's JIT.
  int cudaMaxRegisters = 0;
  /// The Halide target the pipelines were compiled for.
  std::string target;
};

/// model_tables.h for `model`. `extra` is appended (the segment glue,
/// the profiler's tables).
std::string emitModelTables(const ModelDescription &model,
                            const WrapperPipelines &pipelines,
                            const std::string &extra);

/// The wrapper's sources as (path relative to the build folder, text):
/// model_abi.c, the file to compile, includes the others and
/// model_tables.h.
const std::vector<std::pair<std::string, std::string>> &wrapperSources();

/// The file of wrapperSources() a library is compiled from.
constexpr const char *kWrapperMainSource = "model_abi.c";

} // namespace cnnc

#endif // CNNC_DRIVER_WRAPPERTABLES_H
