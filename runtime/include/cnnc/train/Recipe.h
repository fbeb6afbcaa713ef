// The training recipe of a library (cnnc_training_recipe, JSON), read with
// the recipe schema the compiler uses for the YAML `train:` section
// (cnnc/recipe/): the same keys and forms, the same defaults, the same
// checks. `cnnc train` and `cnnc eval` use it as defaults that flags
// override. docs/network-yaml.md and docs/abi.md describe the keys.
#ifndef CNNC_TRAIN_RECIPE_H
#define CNNC_TRAIN_RECIPE_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"
#include "cnnc/recipe/TrainingRecipe.h"

#include <string>

namespace cnnc::rt {

class ModelLibrary;

using recipe::AugmentSpec;
using recipe::EvalTransformSpec;
using recipe::LrScheduleKind;
using recipe::LrScheduleSpec;
using recipe::NormalizeSpec;
using recipe::RandomCropSpec;
using recipe::RandomResizedCropSpec;
using recipe::SgdOptions;
using recipe::TrainingRecipe;

// The recipe schema's SGD checks (lr > 0, momentum and weight decay >= 0,
// finite, Nesterov only with momentum), for values set by flags or read
// from a checkpoint.
Status validateSgd(const SgdOptions &sgd);

// Parses the JSON text. With `sample` (the network's input without the
// batch), sizes left to the input get its size and transforms are checked
// against it. Every problem is reported, one per line, each naming `source`
// (the library) and its key path.
Expected<TrainingRecipe> parseTrainingRecipe(const std::string &json,
                                             const std::string &source,
                                             const Shape *sample = nullptr);
// The recipe of a loaded library, resolved against its input.
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
