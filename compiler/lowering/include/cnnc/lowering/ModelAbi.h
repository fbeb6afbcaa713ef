// What a generated library's C ABI passes to its Halide pipelines, in one
// description: the model's parameters (in cnn.parameter order) and, for the
// forward pass and the training step, the pipeline's arguments and outputs
// in order. The lowering declares its Halide arguments and outputs from it,
// the generated tables of the C wrapper (compiler/driver/wrapper) list it,
// and the segment glue passes it through.
#ifndef CNNC_LOWERING_MODELABI_H
#define CNNC_LOWERING_MODELABI_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

struct AbiParameter {
  std::string name; // PyTorch state_dict name
  std::vector<int64_t> shape;
  bool trainable = true;
  bool buffer = false;  // not learned (a batch norm's running statistics)
  bool updated = false; // the training step writes its new value
};

/// One argument of a pipeline. Parameter and Momentum name a parameter by
/// its index in ModelAbi::parameters; the others are one of a kind.
struct AbiArgument {
  enum class Kind {
    Input,          // float32 [N, ...input shape]
    Labels,         // int64 [N]
    Parameter,      // a parameter's (or buffer's) value
    Momentum,       // a trainable parameter's momentum buffer
    LearningRate,   // float
    MomentumFactor, // float
    WeightDecay,    // float
    Nesterov,       // bool
    FirstStep,      // bool
    RandomSeed,     // uint64: the dropout masks' seed
    StepIndex,      // int64: the step's index in the run (its masks)
    FirstSample,    // int64: the batch's first sample in its global batch
  };
  Kind kind;
  int parameter = -1;
};

/// One output buffer of a pipeline (after its arguments).
struct AbiOutput {
  enum class Kind {
    Logits,       // float32 [N, ...output shape]
    Loss,         // float32 scalar
    NewParameter, // a trainable parameter's new value
    NewMomentum,  // its new momentum buffer
    NewBuffer,    // an updated buffer's new value
  };
  Kind kind;
  int parameter = -1;
};

struct PipelineAbi {
  std::vector<AbiArgument> arguments;
  std::vector<AbiOutput> outputs;

  /// The position of output (kind, parameter) among `outputs`, or -1.
  int outputIndex(AbiOutput::Kind kind, int parameter = -1) const;
};

struct ModelAbi {
  std::vector<int64_t> inputShape;  // batch as -1
  std::vector<int64_t> outputShape; // batch as -1
  std::vector<AbiParameter> parameters;
  /// input, every parameter -> logits.
  PipelineAbi forward;
  /// Present once cnn-autodiff has built func @train_step: input, labels,
  /// every parameter, the momentum of each trainable one, lr, momentum,
  /// weight decay, nesterov, first step, and the random seed, step index
  /// and first sample when a dropout draws masks (cnn::drawsMask) -> loss,
  /// then for
  /// each trainable parameter its new value, then its new momentum, then
  /// each updated buffer's new value (a batch norm's running mean, then its
  /// variance).
  std::optional<PipelineAbi> train;
  /// The smallest batch the training step accepts: 2 when a training batch
  /// norm normalises 1x1 planes (PyTorch refuses one value per channel).
  int64_t minTrainBatch = 1;
  /// Likewise for the forward pass, whose batch norms use batch statistics
  /// only without running statistics (track_running_stats: false).
  int64_t minForwardBatch = 1;

  /// Whether the network has a parameter to train (it has a training step
  /// once cnn-autodiff has run).
  bool trainable() const;
  /// The index of the parameter called `name`, or -1.
  int parameterIndex(const std::string &name) const;
};

/// Describes the ABI of `module`'s func @forward and, if present, its func
/// @train_step.
ModelAbi describeAbi(mlir::ModuleOp module);

} // namespace cnnc

#endif // CNNC_LOWERING_MODELABI_H
