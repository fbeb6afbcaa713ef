// The recipe schema: the training recipe read from a JSON value (a
// library's cnnc_training_recipe, or the YAML `train:` section converted to
// JSON by the importer) and written back in its normalised form.
#ifndef CNNC_RECIPE_RECIPEJSON_H
#define CNNC_RECIPE_RECIPEJSON_H

#include "cnnc/recipe/TrainingRecipe.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace cnnc::recipe {

/// Reads `value` (a JSON object; null reads as {}) over the defaults. Every
/// key is checked and every mistake appended to `problems`, not only the
/// first; what could not be read keeps its default.
TrainingRecipe parseRecipe(const nlohmann::json &value,
                           std::vector<Problem> &problems);

/// Reads the value of `lr_schedule` ({} is a constant rate); problems are at
/// paths under "lr_schedule".
LrScheduleSpec parseLrSchedule(const nlohmann::json &value,
                               std::vector<Problem> &problems);

/// The run-time part of `recipe` in its normalised form, as libraries store
/// it: batch_size, epochs, optimizer (all four SGD values), val_split and
/// keep_best always; lr_schedule, normalize, augment (each transform),
/// eval_transform and init when set; horizontal_flip as a probability;
/// sizes written out where resolveForInput resolved them. The compile-time
/// keys (freeze, frozen_batchnorm) are left out.
nlohmann::json toJson(const TrainingRecipe &recipe);

/// The value of `lr_schedule`: {} for a constant rate.
nlohmann::json toJson(const LrScheduleSpec &schedule);

} // namespace cnnc::recipe

#endif // CNNC_RECIPE_RECIPEJSON_H
