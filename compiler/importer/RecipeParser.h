// The `train:` section of a network file (internal to the importer): the
// training recipe that `cnnc train` takes its defaults from. The YAML is
// converted to JSON, remembering where each value is written, and read by
// the recipe schema the runtime uses too (cnnc/recipe/RecipeJson.h).
#ifndef CNNC_IMPORTER_RECIPEPARSER_H
#define CNNC_IMPORTER_RECIPEPARSER_H

#include "YamlReader.h"

#include "cnnc/importer/NetworkSpec.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace cnnc {

class RecipeParser {
public:
  RecipeParser(YamlReader &reader, NetworkSpec &spec)
      : reader(reader), spec(spec) {}

  /// Reads `node` (the value of `train:`) into spec.train and
  /// spec.trainPositions, and reports every problem at its position, in the
  /// order of the file.
  void parseTrain(const YAML::Node &node);

private:
  YamlReader &reader;
  NetworkSpec &spec;
  /// Problems found, with their positions, until they are reported.
  std::vector<std::pair<SourcePos, std::string>> found;

  /// `node` (at `path` in the recipe) as JSON: plain scalars typed as YAML
  /// reads them (integer, number, boolean, null, text), quoted ones text.
  nlohmann::json toJson(const YAML::Node &node, const std::string &path);
};

} // namespace cnnc

#endif // CNNC_IMPORTER_RECIPEPARSER_H
