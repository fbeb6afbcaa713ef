// What the lowering of one op (OpLowerings.h) works with: the Halide tensors
// of the values it reads, the function's arguments, and where it records its
// result. Internal to the lowering.
#ifndef CNNC_LOWERING_LOWERINGCONTEXT_H
#define CNNC_LOWERING_LOWERINGCONTEXT_H

#include "cnn/CnnDialect.h"
#include "cnnc/halide/Gradients.h"
#include "cnnc/halide/MachineModel.h"
#include "cnnc/halide/Ops.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <Halide.h>

#include <optional>
#include <string>
#include <vector>

namespace cnnc::lowering {

/// Halide Func names must be identifiers: "conv1.weight" -> "conv1_weight".
std::string identifier(llvm::StringRef name);

/// A Func that reads a whole image parameter: [N, C, H, W] -> f(x, y, c, n).
/// With `clampBatch`, reads past the batch (the outermost dim) are clamped
/// into it.
Halide::Func readAll(const Halide::ImageParam &param, const std::string &name,
                     bool clampBatch = false);

/// The function's arguments as Halide parameters, declared once and shared
/// by the pipelines of all its segments.
struct FunctionArguments {
  mlir::Value input;
  Halide::ImageParam inputImage;
  std::vector<cnn::ParameterOp> parameters;
  std::vector<Halide::ImageParam> parameterImages;
  Halide::Expr batch;
  // Training only.
  Halide::ImageParam labels;
  hl::SgdHyper hyper;
  llvm::DenseMap<mlir::Operation *, Halide::ImageParam> momentumIn;
  /// The dropout masks' seed (UInt(64)), step index and first sample
  /// (Int(64)): defined when the function draws masks (cnn::drawsMask).
  Halide::Expr randomSeed, stepIndex, firstSample;
  /// Whether the input is read through a clamp on the batch: Adams2019
  /// splits loops over the batch into whole vectors (RoundUp), computing
  /// (and dropping) images outside the batch, which would read outside the
  /// input buffer. Only for autoscheduled pipelines.
  bool clampBatchReads = false;
};

/// One segment's lowering: the op lowerings read their operands' tensors
/// here and record what they build. Values from outside the segment must be
/// mapped before its ops are lowered: the arguments are (the input at
/// construction, each parameter by its own lowering), the caller adds the
/// intermediates.
class LoweringContext {
public:
  /// `machine`: what the backend that schedules the lowered ops tiles for
  /// (some algorithms have a form its schedules want).
  LoweringContext(const FunctionArguments &args,
                  const hl::MachineModel &machine);
  const hl::MachineModel &machine() const { return target; }

  const FunctionArguments &arguments() const { return args; }
  const hl::Tensor &tensor(mlir::Value v) const;
  std::optional<hl::Tensor> optionalTensor(mlir::Value v) const;
  /// Maps a value of the function to its tensor.
  void setTensor(mlir::Value v, hl::Tensor t) { tensors[v] = std::move(t); }
  /// The row of `op` in the profiler's table: its layer ("layer1.0.conv1"),
  /// followed by its mnemonic for the training step's own ops.
  static std::string profileName(mlir::Operation *op);
  /// The identifier of `op`'s layer ("layer1_0_conv1"), or of its op.
  std::string layerName(mlir::Operation *op) const;
  /// The name of `op`'s Funcs: its layer's identifier ("conv1"); the
  /// training step's own ops add their mnemonic ("conv1_conv2d_weight_grad"),
  /// which is how the profiler tells them apart; an SGD update is its
  /// parameter's ("conv1_weight_sgd").
  std::string funcName(mlir::Operation *op) const;
  const Halide::Expr &batch() const { return args.batch; }
  /// The labels (training only).
  const Halide::Func &labels() const { return labelsRead; }
  /// The momentum buffer of trainable parameter `param`, as read.
  hl::Tensor momentum(cnn::ParameterOp param);
  /// The batch statistics of `input` in training mode, else null: a
  /// training batchnorm2d, its gradients and its running-stat update share
  /// one computation (within a segment; a later segment reads the mean and
  /// variance the batch norm's segment stored: importBatchStats). `op` names
  /// them.
  const hl::ChannelStats *batchStats(bool training, mlir::Value input,
                                     mlir::Operation *op);
  /// The statistics of `input` an earlier segment computed, as this
  /// segment reads them (their mean and var; no sums to schedule).
  void importBatchStats(mlir::Value input, hl::ChannelStats imported) {
    stats[input] = std::move(imported);
    statsImported.insert(input);
  }
  /// The statistics of `input` this segment computes or imports, or null.
  const hl::ChannelStats *existingBatchStats(mlir::Value input) const {
    auto it = stats.find(input);
    return it == stats.end() ? nullptr : &it->second;
  }
  /// A forward op of this segment computes (and schedules) the statistics
  /// of `input`.
  void statsComputedByForwardOp(mlir::Value input) {
    statsOfForwardOps.insert(input);
  }

  /// Records `op`'s lowering; its result, if it has one, is `lowered`'s
  /// output.
  void define(mlir::Operation *op, hl::LoweredOp lowered);
  void define(mlir::Operation *op, hl::LoweredGrad lowered);

  /// Forward ops (and the adds that sum gradients), in order, and the cnn
  /// ops they lower.
  std::vector<hl::LoweredOp> ops;
  std::vector<mlir::Operation *> opsLowered;
  /// Backward ops, the loss and the updates, in order, and their cnn ops.
  std::vector<hl::LoweredGrad> grads;
  std::vector<mlir::Operation *> gradsLowered;
  /// The batch statistics this segment computes that no forward op of it
  /// does (not imported): the backend stores them.
  std::vector<const hl::ChannelStats *> orphanStats() const;

private:
  const FunctionArguments &args;
  const hl::MachineModel &target;
  llvm::DenseMap<mlir::Value, hl::Tensor> tensors;
  Halide::Func labelsRead;
  llvm::DenseMap<mlir::Value, hl::ChannelStats> stats;
  llvm::DenseSet<mlir::Value> statsOfForwardOps, statsImported;
};

} // namespace cnnc::lowering

#endif // CNNC_LOWERING_LOWERINGCONTEXT_H
