#include "cnnc/train/Recipe.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/recipe/RecipeJson.h"

namespace cnnc::rt {

namespace {

using json = nlohmann::json;

// JSON text for messages; never throws (invalid UTF-8 is replaced).
std::string show(const json &v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Each problem on a line of its own, naming the library and the key path.
Error recipeError(const std::vector<recipe::Problem> &problems,
                  const std::string &source) {
  std::string message;
  for (const recipe::Problem &p : problems)
    message += (message.empty() ? "" : "\n") + source +
               ": training recipe: " + p.withPath();
  return Error(message);
}

} // namespace

Status validateSgd(const SgdOptions &sgd) {
  std::vector<recipe::Problem> problems;
  recipe::checkSgd(sgd, "", problems);
  if (problems.empty())
    return Status::success();
  return Error("SGD " + problems.front().withPath());
}

Expected<TrainingRecipe> parseTrainingRecipe(const std::string &text,
                                             const std::string &source,
                                             const Shape *sample) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return Error(source + ": the training recipe is not valid JSON: " + text);
  std::vector<recipe::Problem> problems;
  TrainingRecipe parsed = recipe::parseRecipe(root, problems);
  if (sample && problems.empty())
    recipe::resolveForInput(parsed, *sample, problems);
  if (!problems.empty())
    return recipeError(problems, source);
  return parsed;
}

Expected<TrainingRecipe> trainingRecipe(const ModelLibrary &model) {
  const Shape &input = model.inputShape();
  Shape sample(input.begin() + (input.empty() ? 0 : 1), input.end());
  return parseTrainingRecipe(model.trainingRecipeJson(), model.path(), &sample);
}

std::string describeSchedule(const LrScheduleSpec &s) {
  switch (s.kind) {
  case LrScheduleKind::Constant:
    return "constant";
  case LrScheduleKind::Step:
    return "StepLR(step_size=" + std::to_string(s.stepSize) +
           ", gamma=" + recipe::formatNumber(s.gamma) + ")";
  case LrScheduleKind::Cosine:
    return "CosineAnnealingLR(T_max=" + std::to_string(s.tMax) +
           ", eta_min=" + recipe::formatNumber(s.etaMin) + ")";
  }
  return "?";
}

std::string scheduleToJson(const LrScheduleSpec &s) {
  return show(recipe::toJson(s));
}

Expected<LrScheduleSpec> scheduleFromJson(const std::string &text,
                                          const std::string &source) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object())
    return Error(source +
                 ": the learning-rate schedule is not a JSON object: " + text);
  std::vector<recipe::Problem> problems;
  LrScheduleSpec spec = recipe::parseLrSchedule(value, problems);
  if (!problems.empty())
    return Error(source + ": " + problems.front().withPath());
  return spec;
}

} // namespace cnnc::rt
