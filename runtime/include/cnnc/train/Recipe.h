// The training recipe of a network: the YAML `train:` section as the compiler
// passes it through cnnc_training_recipe (JSON), with PyTorch's defaults for
// what it leaves out. `cnnc train` uses it as defaults that flags override.
//
//   {"batch_size": 64, "epochs": 3,
//    "optimizer": {"sgd": {"lr": 0.01, "momentum": 0.9, "weight_decay": 0,
//                          "nesterov": false}},
//    "lr_schedule": {"step": {"step_size": 2, "gamma": 0.1}}
//                or {"cosine": {"t_max": 10, "eta_min": 0}},
//    "normalize": {"mean": [...], "std": [...]},
//    "augment": {"random_crop": {"size": [h, w], "padding": 4},
//                "random_resized_crop": {"size": [h, w], "scale": [0.08, 1.0],
//                                        "ratio": [0.75, 1.3333]},
//                "horizontal_flip": true},
//    "eval_transform": {"resize": 256 or [h, w], "center_crop": [h, w]},
//    "val_split": 0.2, "keep_best": true,
//    "init": {"weights": "backbone.safetensors", "skip": ["fc.*"]}}
//
// Every key is optional (null counts as absent); "loss": "cross_entropy" is
// accepted. Unknown keys, optimizers and schedules are errors, so a recipe
// this runtime cannot honour is never silently half-applied.
#ifndef CNNC_TRAIN_RECIPE_H
#define CNNC_TRAIN_RECIPE_H

#include "cnnc/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::rt {

class ModelLibrary;

// torch.optim.SGD's arguments and defaults (lr=1e-3 as in torch >= 2.0).
struct SgdOptions {
  double lr = 0.001;
  double momentum = 0.0;
  double weightDecay = 0.0;
  bool nesterov = false;
};

// Checks lr > 0, momentum and weight decay >= 0, finite, and that nesterov
// has momentum (as torch does).
Status validateSgd(const SgdOptions &sgd);

enum class LrScheduleKind { Constant, Step, Cosine };

// torch.optim.lr_scheduler.StepLR(step_size, gamma=0.1) or
// CosineAnnealingLR(T_max, eta_min=0), stepped once per epoch.
struct LrScheduleSpec {
  LrScheduleKind kind = LrScheduleKind::Constant;
  int64_t stepSize = 1; // step
  double gamma = 0.1;   // step
  int64_t tMax = 1;     // cosine
  double etaMin = 0.0;  // cosine
};

// torchvision Normalize(mean, std): one value per channel, or one for all.
struct NormalizeSpec {
  std::vector<float> mean, std;
};

// torchvision RandomCrop(size, padding).
struct RandomCropSpec {
  int64_t height = 0, width = 0, padding = 0;
};

// torchvision RandomResizedCrop(size, scale, ratio).
struct RandomResizedCropSpec {
  int64_t height = 0, width = 0;
  double scaleMin = 0.08, scaleMax = 1.0;
  double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
};

struct AugmentSpec {
  std::optional<RandomCropSpec> randomCrop;
  std::optional<RandomResizedCropSpec> randomResizedCrop;
  double horizontalFlip = 0.0; // probability; true = 0.5, false = 0
};

// The deterministic sizing for validation and evaluation, torchvision's
// Resize(size) then CenterCrop(size); training data uses it too when
// `augment` has no random_resized_crop.
struct EvalTransformSpec {
  int64_t resizeShorter = 0; // Resize(int): the shorter side; 0: none
  int64_t resizeHeight = 0, resizeWidth = 0; // Resize([h, w]); 0: none
  int64_t cropHeight = 0, cropWidth = 0;     // CenterCrop; 0: none
};

struct TrainingRecipe {
  int64_t batchSize = 1; // torch DataLoader's default
  int64_t epochs = 1;
  SgdOptions sgd;
  LrScheduleSpec schedule;
  std::optional<NormalizeSpec> normalize;
  AugmentSpec augment;
  std::optional<EvalTransformSpec> evalTransform;
  double valSplit = 0.0; // fraction of the training data held out; 0: none
  bool keepBest = true;  // output the best validation epoch's weights
  // init: weights to start from (a path as given, relative to the working
  // directory) and the globs of tensors to start anew (cnnc train --skip).
  std::string initWeights;
  std::vector<std::string> initSkip;
};

// Parses the JSON text; errors name `source` (the library) and the key.
Expected<TrainingRecipe> parseTrainingRecipe(const std::string &json,
                                             const std::string &source);
// The recipe of a loaded library.
Expected<TrainingRecipe> trainingRecipe(const ModelLibrary &model);

// "StepLR(step_size=2, gamma=0.1)", "CosineAnnealingLR(T_max=10, eta_min=0)",
// "constant": for logs.
std::string describeSchedule(const LrScheduleSpec &schedule);

// The schedule as JSON text and back (for checkpoints).
std::string scheduleToJson(const LrScheduleSpec &schedule);
Expected<LrScheduleSpec> scheduleFromJson(const std::string &json,
                                          const std::string &source);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_RECIPE_H
