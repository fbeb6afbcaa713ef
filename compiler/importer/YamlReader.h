// Reading YAML nodes with diagnostics (internal to the importer): typed
// scalars, [h, w] pairs and mappings with known keys, each problem reported
// at its position with a suggestion where one helps. Reading goes on after
// an error, so a file's mistakes are all reported in one run.
#ifndef CNNC_IMPORTER_YAMLREADER_H
#define CNNC_IMPORTER_YAMLREADER_H

#include "cnnc/importer/NetworkSpec.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace cnnc {

/// A mapping's entries by key name: the key node and the value node.
using KeyMap = std::map<std::string, std::pair<YAML::Node, YAML::Node>>;

class YamlReader {
public:
  explicit YamlReader(const SpecDiagnosticFn &diagnose) : diagnose(diagnose) {}

  /// Whether any problem was reported.
  bool failed() const { return hadError; }

  static SourcePos posOf(const YAML::Node &node);
  /// "'text'", "a list", "a mapping" or "nothing": a node in messages.
  static std::string describe(const YAML::Node &node);

  /// Reports `message` at `pos`, once per position and message (a block's
  /// body is read once per instance), and nothing where a bad `$argument`
  /// was reported (see silence).
  void error(SourcePos pos, const std::string &message);
  void error(const YAML::Node &node, const std::string &message);
  /// Says nothing more at `pos`.
  void silence(SourcePos pos) { silenced.insert({pos.line, pos.column}); }

  /// The entries of mapping `map`; reports unknown keys (with the nearest
  /// of `allowed`) and duplicates. `context` names the mapping in messages.
  KeyMap keysOf(const YAML::Node &map, const std::vector<std::string> &allowed,
                const std::string &context);
  /// Whether the last keysOf suggested `key` for a misspelt one: a required
  /// key that was misspelt is not reported missing a second time.
  bool wasSuggested(const std::string &key) const {
    return suggested.count(key) > 0;
  }
  const std::set<std::string> &suggestions() const { return suggested; }

  std::optional<int64_t> integer(const YAML::Node &node,
                                 const std::string &what, int64_t min);
  /// An integer, or [h, w] of them.
  std::optional<cnn::shape::Pair> pair(const YAML::Node &node,
                                       const std::string &what, int64_t min);
  std::optional<bool> boolean(const YAML::Node &node, const std::string &what);
  std::optional<double> real(const YAML::Node &node, const std::string &what,
                             double min);

  /// What a value node stands for: the node itself, or what the caller
  /// substitutes for it (a block argument `$name` inside a block's layers).
  YAML::Node resolve(const YAML::Node &node) {
    return substitute ? substitute(node) : node;
  }
  /// Set while reading layer lists; empty elsewhere.
  std::function<YAML::Node(const YAML::Node &)> substitute;

private:
  const SpecDiagnosticFn &diagnose;
  bool hadError = false;
  std::set<std::string> suggested;
  std::set<std::tuple<unsigned, unsigned, std::string>> reported;
  std::set<std::pair<unsigned, unsigned>> silenced;
};

} // namespace cnnc

#endif // CNNC_IMPORTER_YAMLREADER_H
