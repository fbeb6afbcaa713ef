// The training recipe's JSON reader (a library's cnnc_training_recipe) on
// arbitrary text: problems, or a recipe whose normalised JSON reads back
// without problems to the same JSON.
#include "FuzzTarget.h"

#include "cnnc/recipe/RecipeJson.h"

using namespace cnnc::recipe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nlohmann::json value = nlohmann::json::parse(
      data, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    return 0;
  std::vector<Problem> problems;
  TrainingRecipe recipe = parseRecipe(value, problems);
  if (!problems.empty())
    return 0;
  const nlohmann::json normalised = toJson(recipe);
  std::vector<Problem> again;
  TrainingRecipe reread = parseRecipe(normalised, again);
  CNNC_FUZZ_CHECK(again.empty());
  CNNC_FUZZ_CHECK(toJson(reread) == normalised);
  return 0;
}
