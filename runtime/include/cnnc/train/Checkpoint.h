// Training checkpoints: everything `cnnc train --resume` needs to continue a
// run exactly where it stopped, in one safetensors file (written atomically:
// a reader, or a run killed mid-write, never sees half a file).
//
// Tensors:
//   <param>                           the parameters after the last epoch
//   optimizer.<param>.momentum_buffer  SGD momentum (trainable parameters)
//   best.<param>                      the best-by-validation-accuracy weights
//                                     (absent until an epoch was evaluated)
// Metadata (strings): "format": "pt", "cnnc_checkpoint": "1", "network",
// "epochs_completed", "steps", "seed", "epochs", "batch_size", "lr",
// "momentum", "weight_decay", "nesterov", "shuffle", "lr_schedule" (JSON),
// "best_accuracy", "best_epoch", "val_split" (absent in older checkpoints:
// 0). Numbers are written exactly (%.17g).
#ifndef CNNC_TRAIN_CHECKPOINT_H
#define CNNC_TRAIN_CHECKPOINT_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"
#include "cnnc/train/Recipe.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc::rt {

class ModelLibrary;

struct TrainingCheckpoint {
  // In model.parameters() order.
  std::vector<Tensor> parameters;
  std::vector<Tensor> momentum;       // empty Tensor() for frozen parameters
  std::vector<Tensor> bestParameters; // empty vector when bestEpoch == 0
  std::string network;                // the network's name
  int64_t epochsCompleted = 0;
  int64_t steps = 0;
  uint64_t seed = 0;
  double bestAccuracy = 0.0; // fraction in [0, 1]
  int64_t bestEpoch = 0;     // 1-based; 0: none yet
  // The run's settings, so a resumed run continues with them.
  int64_t epochs = 1;
  int64_t batchSize = 1;
  SgdOptions sgd;
  LrScheduleSpec schedule;
  bool shuffle = true;
  double valSplit = 0.0; // the part of the training data held out; 0: none
};

// The tensor names used for parameter `name`.
std::string momentumTensorName(const std::string &name);
std::string bestTensorName(const std::string &name);

Status saveCheckpoint(const std::string &path, const ModelLibrary &model,
                      const TrainingCheckpoint &checkpoint);

// Reads and checks a checkpoint against `model`: every tensor the network
// needs present with its shape and nothing else. Errors name the file; a
// checkpoint of another network lists the differences, a plain weights file
// is recognised and the user pointed to --weights.
Expected<TrainingCheckpoint> loadCheckpoint(const std::string &path,
                                            const ModelLibrary &model);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_CHECKPOINT_H
