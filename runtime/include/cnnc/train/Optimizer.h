// The state of SGD training: the parameters, one momentum buffer per
// trainable parameter and the number of steps taken, advanced one batch at a
// time by the library's cnnc_train_step.
//
// With a library that has sessions (ModelLibrary::Session), the state lives
// in the library (on the device, for a GPU library) and syncToHost() copies
// it here when asked. Otherwise the library writes the new parameters and
// momentum into a second set of buffers, which are then swapped in. Either
// way a failed step leaves the state as it was. Frozen parameters have one
// buffer and no momentum; the running statistics the step updates (batch
// norm buffers) have two buffers and no momentum.
//
// Across processes (a Communicator of more than one: `mpirun -np N cnnc
// train`) each step is the library's gradient step on this process's slice
// of the global batch, a sum of the gradients over the processes, and the
// library's update, which every process applies to the same bits
// (docs/data-parallel.md).
#ifndef CNNC_TRAIN_OPTIMIZER_H
#define CNNC_TRAIN_OPTIMIZER_H

#include "cnnc/Error.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/Tensor.h"
#include "cnnc/dist/Communicator.h"
#include "cnnc/train/Recipe.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::rt {

class SgdOptimizer {
public:
  // `parameters`: F32 tensors in model.parameters() order and shapes.
  // `momentum`: empty for a fresh start (zeros), or one tensor per
  // parameter (an empty Tensor() for a frozen one). `steps`: steps already
  // taken; the next step is torch's first (v = g) only when it is 0.
  // `seed`: of the dropout masks (step i draws those of step index i).
  // `comm`: the processes training together (null: this one alone); rank
  // 0's parameters, momentum and step count are then everyone's. `model`
  // and `comm` must outlive the optimizer.
  static Expected<SgdOptimizer> create(const ModelLibrary &model,
                                       std::vector<Tensor> parameters,
                                       std::vector<Tensor> momentum = {},
                                       int64_t steps = 0, uint64_t seed = 0,
                                       dist::Communicator *comm = nullptr);

  // One step on a batch at learning rate `lr` (see ModelLibrary::trainStep;
  // `labelSource` names the labels in errors). Returns the batch's mean loss.
  // Across processes, `images` is this process's slice of the global batch
  // (possibly empty, in a last partial batch), whose first sample is
  // sample `firstInGlobalBatch` of the global batch (for its dropout
  // masks), and the loss is the global batch's mean.
  Expected<float> step(const Tensor &images, const Tensor &labels, double lr,
                       const SgdOptions &options,
                       const std::string &labelSource,
                       int64_t firstInGlobalBatch = 0);

  // The logits of `images` with the current parameters: the session's
  // forward pass (no copies of the parameters), else the library's.
  Expected<Tensor> forward(const Tensor &images) const;
  // Brings parameters() and momentum() up to date with the library's
  // session after steps (nothing to do without one).
  Status syncToHost();
  // As of the last syncToHost() (or step, without a session).
  const std::vector<Tensor> &parameters() const { return parameters_; }
  // Empty Tensor() for frozen parameters.
  const std::vector<Tensor> &momentum() const { return momentum_; }
  const std::vector<bool> &trainable() const { return trainable_; }
  std::vector<const Tensor *> parameterPointers() const;
  int64_t steps() const { return steps_; }
  // The samples of the last step, over every process.
  int64_t lastBatchSize() const { return lastBatchSize_; }
  // Across processes: an error unless every process holds the same
  // parameters and momentum, bit for bit; else the checksum they all
  // compared (nullopt in one process).
  Expected<std::optional<uint64_t>> checkInSync();

private:
  SgdOptimizer() = default;
  bool acrossProcesses() const { return comm_ && comm_->size() > 1; }
  // The hyper-parameters of the next step.
  ModelLibrary::SgdStep nextStep(double lr, const SgdOptions &options) const;
  Status prepareAcrossProcesses();
  Expected<float> stepAcrossProcesses(const Tensor &images,
                                      const Tensor &labels, double lr,
                                      const SgdOptions &options,
                                      const std::string &labelSource,
                                      int64_t firstInGlobalBatch);
  const ModelLibrary *model_ = nullptr;
  std::vector<bool> trainable_;
  std::vector<Tensor> parameters_, momentum_;
  std::vector<Tensor> nextParameters_, nextMomentum_; // written by each step
  int64_t steps_ = 0;
  uint64_t seed_ = 0;
  std::optional<ModelLibrary::Session> session_;
  int64_t lastBatchSize_ = 0;
  dist::Communicator *comm_ = nullptr;
  // Across processes: one flat buffer summed by one collective call, the
  // gradients of the trainable parameters, then the new values of the
  // updated buffers, then [loss sum, samples, processes with samples].
  std::vector<float> reduced_;
  std::vector<float *> gradientSlices_, bufferSlices_;
};

} // namespace cnnc::rt

#endif // CNNC_TRAIN_OPTIMIZER_H
