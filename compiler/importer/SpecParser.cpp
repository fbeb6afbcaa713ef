// The top level of a network file: its name, input, blocks, layers, loss
// and training recipe. yaml-cpp reports through exceptions; they are caught
// here and never cross the importer's boundary.
#include "SpecParser.h"
#include "NetworkDocument.h"
#include "RecipeParser.h"

#include "cnnc/importer/Suggest.h"

namespace cnnc {

void SpecParser::parseInput(const YAML::Node &node) {
  spec.inputPos = YamlReader::posOf(node);
  if (!node.IsSequence() || (node.size() != 3 && node.size() != 1)) {
    reader.error(node,
                 "'input' must be [channels, height, width] (or [features]) "
                 "without the batch dimension, got " +
                     YamlReader::describe(node));
    return;
  }
  for (const YAML::Node &d : node) {
    auto v = reader.integer(d, "input", 1);
    if (!v)
      return;
    spec.input.push_back(*v);
  }
}

bool SpecParser::parse(const std::string &text, const std::string &defaultName,
                       const std::string &path,
                       const NetworkFileReader &readFile) {
  std::optional<YAML::Node> document =
      loadNetworkDocument(text, path, readFile, spec.sources, reader);
  if (!document)
    return false;
  YAML::Node root = *document;
  if (root.IsNull()) {
    reader.error(SourcePos{}, "the file is empty; expected a network such as "
                              "'input: [3, 32, 32]' and 'layers: [...]'");
    return false;
  }
  if (!root.IsMap()) {
    reader.error(root, "expected a mapping with 'input' and 'layers', got " +
                           YamlReader::describe(root));
    return false;
  }
  auto keys = reader.keysOf(
      root, {"name", "input", "blocks", "layers", "loss", "train"},
      "the network");
  spec.name = defaultName;
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar()))
      reader.error(n, "'name' must be letters, digits and '_', got " +
                          YamlReader::describe(n));
    else
      spec.name = n.Scalar();
  }
  if (keys.count("input"))
    parseInput(keys["input"].second);
  else
    reader.error(root,
                 "missing 'input', the shape of one sample, e.g. [3, 32, 32]");
  if (keys.count("loss")) {
    const YAML::Node &loss = keys["loss"].second;
    if (!loss.IsScalar() || loss.Scalar() != "cross_entropy")
      reader.error(loss, "unknown loss " + YamlReader::describe(loss) +
                             " (supported: cross_entropy)");
  }
  if (keys.count("train"))
    RecipeParser(reader, spec).parseTrain(keys["train"].second);

  if (keys.count("blocks"))
    parseBlocks(keys["blocks"].second);
  if (!keys.count("layers")) {
    reader.error(root, "missing 'layers', the list of layers");
    return false;
  }
  std::vector<Item> items = parseLayers(keys["layers"].second);
  // Nodes that could not be read are placeholders: names and inputs are
  // still checked, but unused results would be guesses.
  bool resolved =
      resolveGraph(items, spec, /*allNodesRead=*/!reader.failed(), diagnose);
  return resolved && !reader.failed();
}

bool parseNetworkSpec(const std::string &text, const std::string &defaultName,
                      NetworkSpec &spec, const SpecDiagnosticFn &diagnose,
                      const std::string &path,
                      const NetworkFileReader &readFile) {
  try {
    return SpecParser(spec, diagnose).parse(text, defaultName, path, readFile);
  } catch (const YAML::Exception &e) {
    // Malformed nodes can still throw while being read.
    diagnose(SourcePos{static_cast<unsigned>(e.mark.line + 1),
                       static_cast<unsigned>(e.mark.column + 1)},
             "invalid YAML: " + e.msg);
    return false;
  }
}

} // namespace cnnc