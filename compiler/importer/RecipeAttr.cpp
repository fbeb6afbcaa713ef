// The `train:` recipe on its way into the library: checked against the
// network's input, then stored as the module's `cnn.train` attribute, which
// the library returns as JSON (cnnc_training_recipe).
#include "RecipeAttr.h"

#include "cnnc/recipe/RecipeJson.h"

namespace cnnc {

using namespace mlir;

namespace {
/// spec.train with the sizes that default to the input resolved; problems
/// of its transforms against the input are appended to `problems`.
recipe::TrainingRecipe resolvedRecipe(const NetworkSpec &spec,
                                      std::vector<recipe::Problem> &problems) {
  recipe::TrainingRecipe resolved = spec.train;
  recipe::resolveForInput(resolved, spec.input, problems);
  return resolved;
}

/// JSON as an attribute: objects as dictionaries, integers as i64, numbers
/// as f64 (so the library's JSON reads back the same types).
Attribute toAttribute(const nlohmann::json &value, Builder &builder) {
  switch (value.type()) {
  case nlohmann::json::value_t::object: {
    SmallVector<NamedAttribute> entries;
    for (auto it = value.begin(); it != value.end(); ++it)
      entries.push_back(
          builder.getNamedAttr(it.key(), toAttribute(*it, builder)));
    return builder.getDictionaryAttr(entries);
  }
  case nlohmann::json::value_t::array: {
    SmallVector<Attribute> elements;
    for (const nlohmann::json &element : value)
      elements.push_back(toAttribute(element, builder));
    return builder.getArrayAttr(elements);
  }
  case nlohmann::json::value_t::boolean:
    return builder.getBoolAttr(value.get<bool>());
  case nlohmann::json::value_t::number_integer:
  case nlohmann::json::value_t::number_unsigned:
    return builder.getI64IntegerAttr(value.get<int64_t>());
  case nlohmann::json::value_t::number_float:
    return builder.getF64FloatAttr(value.get<double>());
  case nlohmann::json::value_t::string:
    return builder.getStringAttr(value.get<std::string>());
  default:
    return builder.getUnitAttr();
  }
}
} // namespace

DictionaryAttr recipeAttribute(const NetworkSpec &spec, Builder &builder) {
  std::vector<recipe::Problem> problems; // checkRecipeAgainstInput's
  return toAttribute(recipe::toJson(resolvedRecipe(spec, problems)), builder)
      .cast<DictionaryAttr>();
}

void checkRecipeAgainstInput(const NetworkSpec &spec,
                             const RecipeErrorFn &error) {
  std::vector<recipe::Problem> problems;
  resolvedRecipe(spec, problems);
  for (const recipe::Problem &p : problems)
    error(spec.trainPositions.at(p.path, p.atKey), p.text());
}

} // namespace cnnc
