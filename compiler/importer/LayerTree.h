// The layer lists of a network file as parsed, before names and inputs are
// resolved (internal to the importer). SpecParser.cpp builds this tree;
// GraphResolver.cpp turns it into NetworkSpec::layers.
#ifndef CNNC_IMPORTER_LAYERTREE_H
#define CNNC_IMPORTER_LAYERTREE_H

#include "cnnc/importer/NetworkSpec.h"

#include <string>
#include <vector>

namespace cnnc {

/// A node named in `input:` / `inputs:`, where it is written.
struct NodeRef {
  std::string name;
  SourcePos pos;
};

/// One entry of a layer list. Parsing each repeated body once keeps its
/// errors from being reported once per repetition.
struct Item {
  enum class Type {
    Layer,   // `layer`
    Repeat,  // `count` copies of `body`, spliced into the enclosing list
    Group,   // a sequential or a block instance: `body` in a scope of its own
    Skipped, // a node with `if: false`: its name stands for its input
  };
  Type type = Type::Layer;
  LayerSpec layer; // the kind for layers; pos and name for every type
  bool explicitName = false;
  /// Generated names of unnamed nodes in block bodies and the top level:
  /// "conv" gives conv1, conv2, ...
  std::string namePrefix;
  /// `input:` / `inputs:` as written; empty: the previous node of the list
  /// (the list's input for the first).
  std::vector<NodeRef> inputs;
  // Repeat
  int64_t count = 0;
  std::string repeatName;
  // Repeat and Group
  std::vector<Item> body;
  /// Group: unnamed members are named by their index, as in nn.Sequential
  /// ("downsample.0"); otherwise (block bodies) conv1, relu1, ...
  bool numbered = false;
};

/// Gives every node its full name (scope prefixes, repeat indices,
/// generated names), resolves inputs within each scope, and stores the
/// layers in `spec.layers` in dependency order. Reports duplicate names,
/// unknown inputs (with a suggestion), cycles and unused results through
/// `error`; returns false if there was any. Unless `allNodesRead`, some
/// nodes are placeholders for ones that could not be read, and unused
/// results are not reported (they would be guesses).
bool resolveGraph(const std::vector<Item> &top, NetworkSpec &spec,
                  bool allNodesRead, const SpecDiagnosticFn &error);

} // namespace cnnc

#endif // CNNC_IMPORTER_LAYERTREE_H
