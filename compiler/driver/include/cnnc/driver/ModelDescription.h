// What a generated library says about itself through the C ABI: derived once
// from the cnn module and used by the header and the wrapper generators.
#ifndef CNNC_DRIVER_MODELDESCRIPTION_H
#define CNNC_DRIVER_MODELDESCRIPTION_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc {

struct ParameterDescription {
  std::string name; // PyTorch state_dict name
  std::vector<int64_t> shape;
  bool trainable = true;
  bool buffer = false;  // not learned (a batch norm's running statistics)
  bool updated = false; // the training step writes its new value
};

struct ModelDescription {
  std::string name;
  std::vector<int64_t> inputShape;              // batch as -1
  std::vector<int64_t> outputShape;             // batch as -1
  std::vector<ParameterDescription> parameters; // in ABI order
  std::string trainingRecipe = "{}";            // JSON of the train: section
  bool hasTrainStep = false;
  /// The buffers the training step updates, in the order of its outputs
  /// (after the new momentum buffers; see lowerTrainStep).
  std::vector<size_t> updatedBuffers;
  /// The smallest batch the training step accepts: 2 when a training batch
  /// norm normalises 1x1 planes (PyTorch refuses one value per channel).
  int64_t minTrainBatch = 1;
};

/// Reads the description of `func @forward`. Parameters are listed in the
/// order their cnn.parameter ops appear. Which buffers are updated is read
/// from `func @train_step` once cnn-autodiff has built it (none before).
ModelDescription describeModel(mlir::ModuleOp module);

/// The public header of a generated library: the C ABI plus the model's
/// shapes and parameter names as constants.
std::string emitModelHeader(const ModelDescription &model);

/// `text` as a C string literal (quotes and backslashes escaped), for the
/// generated C sources.
std::string cString(const std::string &text);

/// C source implementing the ABI on top of the Halide pipelines
/// `halideForward` (input, parameters..., output) and, if the model has a
/// train step, `halideTrain` (see lowerTrainStep for its arguments). With
/// a `smallBatchForward` (same arguments), cnnc_forward calls it instead of
/// `halideForward` for batches below `smallBatchBelow`.
std::string emitModelWrapper(const ModelDescription &model,
                             const std::string &halideForward,
                             const std::string &halideTrain,
                             const std::string &smallBatchForward = "",
                             int64_t smallBatchBelow = 0);

} // namespace cnnc

#endif // CNNC_DRIVER_MODELDESCRIPTION_H
