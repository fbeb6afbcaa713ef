// The YAML front end's parser (internal to the importer): a network file
// (the sequential form, or the graph form with named inputs, `sequential:`
// lists and `blocks:`) into the layer tree of LayerTree.h, which
// GraphResolver.cpp then names and orders. Its parts live in their own
// files: SpecParser.cpp (the file's top level), GraphParser.cpp (layer
// lists, repeat, sequential, blocks and their `$arguments`),
// LayerArguments.cpp (each layer's arguments, read through the layer
// table), RecipeParser.cpp (the `train:` section).
#ifndef CNNC_IMPORTER_SPECPARSER_H
#define CNNC_IMPORTER_SPECPARSER_H

#include "LayerTree.h"
#include "YamlReader.h"

#include "cnnc/importer/NetworkSpec.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

/// A `blocks:` entry: a list of layers with named arguments, instantiated
/// like a layer.
struct BlockDef {
  SourcePos pos;
  YAML::Node layers;
  struct Arg {
    std::string name;
    bool required = true;
    YAML::Node value; // the default
  };
  std::vector<Arg> args;
  /// `sequential: true`: the block is an nn.Sequential (torchvision's
  /// Conv2dNormActivation), its unnamed nodes named by their index.
  bool numbered = false;
};

class SpecParser {
public:
  SpecParser(NetworkSpec &spec, const SpecDiagnosticFn &diagnose)
      : spec(spec), diagnose(diagnose), reader(diagnose) {}

  bool parse(const std::string &text, const std::string &defaultName,
             const std::string &path, const NetworkFileReader &readFile);

private:
  NetworkSpec &spec;
  const SpecDiagnosticFn &diagnose;
  YamlReader reader;

  std::map<std::string, BlockDef> blocks;
  /// The block instances being parsed, innermost last; `$name` reads the
  /// innermost one's arguments.
  struct Instance {
    std::string block;
    std::map<std::string, YAML::Node> args;
  };
  std::vector<Instance> instances;
  int64_t instanceCount = 0;

  void parseInput(const YAML::Node &node);

  // GraphParser.cpp
  /// `$name` inside a block body -> the instance's argument node; any
  /// other node as it is.
  YAML::Node arg(const YAML::Node &node);
  void parseBlocks(const YAML::Node &node);
  /// Reads the layers of `node` with `$arguments` substituted.
  std::vector<Item> parseLayers(const YAML::Node &node);
  std::vector<Item> parseLayerList(const YAML::Node &node, int depth);
  std::optional<Item> parseLayer(const YAML::Node &node, int depth);
  std::optional<Item> parseRepeat(const YAML::Node &node, int depth);
  std::optional<Item> parseGroup(const std::string &kind, const YAML::Node &key,
                                 const YAML::Node &args, int depth);
  bool parseNodeKeys(Item &item, KeyMap &keys);

  // LayerArguments.cpp
  bool parseArguments(Item &item, const YAML::Node &args);
};

} // namespace cnnc

#endif // CNNC_IMPORTER_SPECPARSER_H
