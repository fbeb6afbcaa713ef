// The training loop: epochs of SGD steps over a DataLoader, each followed by
// an evaluation on validation data, the learning rate following the schedule
// per epoch. Files are the caller's business: after each epoch a hook gets the
// state to save (a TrainingCheckpoint), so `cnnc train` writes checkpoints
// and tests can watch.
#ifndef CNNC_TRAIN_TRAINER_H
#define CNNC_TRAIN_TRAINER_H

#include "cnnc/Error.h"
#include "cnnc/dist/Communicator.h"
#include "cnnc/train/Checkpoint.h"
#include "cnnc/train/Evaluate.h"

#include <cstdint>
#include <functional>
#include <optional>

namespace cnnc::rt {

class ModelLibrary;
class Progress;
namespace data {
class DataLoader;
}

struct EpochSummary {
  int64_t epoch = 0; // 1-based
  int64_t epochs = 0;
  double lr = 0.0;
  double trainLoss = 0.0; // mean over the epoch's samples of the batch losses
  int64_t trainImages = 0;
  double trainSeconds = 0.0;
  double seconds = 0.0; // training and validation
  EvalResult validation;
  bool best = false; // the best validation accuracy so far (strictly better)
  // Across processes: the checksum of the parameters and momentum that
  // every process compared and agreed on after the epoch.
  std::optional<uint64_t> checksum;
  double imagesPerSecond() const {
    return trainSeconds > 0 ? static_cast<double>(trainImages) / trainSeconds
                            : 0.0;
  }
};

// "epoch 2/3: train loss 0.4123, val loss 0.3990, val accuracy 87.50% (7/8),
// lr 0.05, 1.3 s, 4567 images/s (best)"
std::string formatEpochSummary(const EpochSummary &summary);

// Called after each epoch with the state to save; an error stops training.
using EpochHook =
    std::function<Status(const EpochSummary &, const TrainingCheckpoint &)>;

// One training step, as it ended.
struct StepRecord {
  int64_t epoch = 0;   // 1-based
  int64_t batch = 0;   // 1-based, in the epoch
  int64_t batches = 0; // in the epoch
  int64_t step = 0;    // steps taken in the whole run, this one included
  double lr = 0.0;
  double loss = 0.0;         // this batch's mean loss
  int64_t images = 0;        // this batch's
  double epochSeconds = 0.0; // since the epoch started
};

// Called after each step; an error stops training.
using StepHook = std::function<Status(const StepRecord &)>;

// Trains epochs state.epochsCompleted + 1 .. state.epochs from `state`
// (parameters in model order; momentum empty for a fresh start), updating it
// as it goes: on success it holds the final state; on an error, the state
// after the last completed epoch. `train` must have been created with
// state.batchSize, state.shuffle and state.seed (checked); `validation` is
// evaluated in its current epoch's order. A loss that is not finite stops
// training with an error (lower the learning rate).
//
// With `comm` of more than one process (docs/data-parallel.md), `train`
// and `validation` serve this process's shard of each global batch; the
// steps combine the gradients of all, the validation counts are summed
// over all, the parameters are compared across processes after every
// epoch, and every process gets the same summaries and state.
Status train(const ModelLibrary &model, data::DataLoader &train,
             const data::DataLoader &validation, TrainingCheckpoint &state,
             Progress &progress, const EpochHook &afterEpoch,
             const StepHook &afterStep = nullptr,
             dist::Communicator *comm = nullptr);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_TRAINER_H
