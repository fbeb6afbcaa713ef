// The `train:` section of a network file (internal to the importer): the
// training recipe that `cnnc train` takes its defaults from.
#ifndef CNNC_IMPORTER_RECIPEPARSER_H
#define CNNC_IMPORTER_RECIPEPARSER_H

#include "YamlReader.h"

#include "cnnc/importer/NetworkSpec.h"

namespace cnnc {

class RecipeParser {
public:
  RecipeParser(YamlReader &reader, NetworkSpec &spec)
      : reader(reader), spec(spec) {}

  /// Reads `node` (the value of `train:`) into spec.train.
  void parseTrain(const YAML::Node &node);

private:
  YamlReader &reader;
  NetworkSpec &spec;

  void parseSgd(const YAML::Node &node);
  void parseLrSchedule(const YAML::Node &node);
  void parseNormalize(const YAML::Node &node);
  void parseAugment(const YAML::Node &node);
  void parseRandomResizedCrop(const YAML::Node &key, const YAML::Node &node);
  bool parseRange(const YAML::Node &node, const std::string &what,
                  double (&out)[2]);
  void parseEvalTransform(const YAML::Node &node);
  void parseFreeze(const YAML::Node &node);
  void parseInit(const YAML::Node &node);
};

} // namespace cnnc

#endif // CNNC_IMPORTER_RECIPEPARSER_H
