// From the parsed layer tree to NetworkSpec::layers: names, inputs, order.
//
// Every list (the network's `layers:`, a `sequential:`, a block body) is a
// scope. Its nodes are named within it (the full name is prefixed with the
// enclosing groups' names, as PyTorch prefixes a submodule's parameters),
// and `input:` names a node of the same list, or `input`, the list's own
// input. Groups and skipped nodes (`if: false`) become aliases: a group
// stands for the last node of its list, a skipped node for its input. The
// graph, aliases included, is checked for cycles and unused results; then
// aliases are resolved away and the layers are ordered so that each comes
// after its inputs.
#include "LayerTree.h"

#include "cnnc/importer/Suggest.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>

namespace cnnc {
namespace {

/// An input that named no node (already reported).
constexpr int kUnresolved = -2;

struct GraphNode {
  bool isLayer = false;    // else an alias of inputs[0]
  bool visible = true;     // false: the input alias of a group's list
  LayerSpec layer;         // the full name and position for every node
  std::vector<int> inputs; // node ids, kNetworkInput or kUnresolved
  int consumers = 0;
};

class GraphResolver {
public:
  GraphResolver(NetworkSpec &spec, const SpecDiagnosticFn &diagnose)
      : spec(spec), diagnose(diagnose) {}

  bool resolve(const std::vector<Item> &top, bool allNodesRead);

private:
  using Entry = std::pair<const Item *, std::string>;

  NetworkSpec &spec;
  const SpecDiagnosticFn &diagnose;
  bool failed = false;
  bool unresolved = false; // some input named no node
  bool tooMany = false;
  std::vector<GraphNode> nodes;
  /// Full name -> where it is written and which list (a number) holds it.
  std::map<std::string, std::pair<SourcePos, int>> fullNames;
  int scopes = 0;

  void error(SourcePos pos, const std::string &message) {
    failed = true;
    diagnose(pos, message);
  }
  void expand(const std::vector<Item> &items, const std::string &prefix,
              const std::string &suffix, std::vector<Entry> &out);
  int resolveScope(const std::vector<Item> &items, const std::string &prefix,
                   bool numbered, int scopeInput);
  int lookup(const NodeRef &ref, const std::map<std::string, int> &table,
             int scopeInput);
  bool reportCycles();
  void reportUnused(int output);
  int real(int id) const {
    while (id >= 0 && !nodes[id].isLayer)
      id = nodes[id].inputs[0];
    return id;
  }
  void emit();
};

/// Splices repeat copies into the list. Explicit names inside a named
/// repeat become "<repeat>.<i>.<name>", inside an unnamed one
/// "<name>.<i>"; unnamed nodes are named later.
void GraphResolver::expand(const std::vector<Item> &items,
                           const std::string &prefix, const std::string &suffix,
                           std::vector<Entry> &out) {
  for (const Item &item : items) {
    if (tooMany)
      return;
    if (item.type != Item::Type::Repeat) {
      out.push_back({&item, item.explicitName
                                ? prefix + item.layer.name + suffix
                                : std::string()});
      if (static_cast<int64_t>(nodes.size() + out.size()) > kMaxLayers) {
        tooMany = true;
        error(item.layer.pos, "the network expands to more than " +
                                  std::to_string(kMaxLayers) +
                                  " layers; check the repeat counts");
      }
      continue;
    }
    for (int64_t i = 0; i < item.count && !tooMany; ++i) {
      std::string index = std::to_string(i);
      if (item.repeatName.empty())
        expand(item.body, prefix, suffix + "." + index, out);
      else
        expand(item.body, prefix + item.repeatName + "." + index + ".", suffix,
               out);
    }
  }
}

int GraphResolver::lookup(const NodeRef &ref,
                          const std::map<std::string, int> &table,
                          int scopeInput) {
  if (ref.name == "input")
    return scopeInput;
  auto it = table.find(ref.name);
  if (it != table.end())
    return it->second;
  std::vector<std::string> names{"input"};
  for (const auto &[name, id] : table)
    names.push_back(name);
  std::string message = "unknown input '" + ref.name + "'";
  if (auto near = nearestMatch(ref.name, names))
    message += "; did you mean '" + *near + "'?";
  else
    message += " (nodes of this list: " + joinNames(names) + ")";
  error(ref.pos, message);
  unresolved = true;
  return kUnresolved;
}

int GraphResolver::resolveScope(const std::vector<Item> &items,
                                const std::string &prefix, bool numbered,
                                int scopeInput) {
  std::vector<Entry> entries;
  expand(items, "", "", entries);
  if (tooMany)
    return kUnresolved;

  std::map<std::string, SourcePos> taken;
  for (auto &[item, name] : entries) {
    if (name.empty())
      continue;
    if (name == "input") {
      error(item->layer.pos, "'input' names the input of its list; choose "
                             "another layer name");
      continue;
    }
    auto [it, inserted] = taken.insert({name, item->layer.pos});
    if (!inserted)
      error(item->layer.pos, "duplicate layer name '" + name +
                                 "' (first used at line " +
                                 std::to_string(it->second.line) + ")");
  }
  std::map<std::string, int> counters;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto &[item, name] = entries[i];
    if (!name.empty())
      continue;
    if (numbered) {
      name = std::to_string(i); // explicit names never start with a digit
      continue;
    }
    do
      name = item->namePrefix + std::to_string(++counters[item->namePrefix]);
    while (taken.count(name));
    taken.insert({name, item->layer.pos});
  }

  // Nodes first, inputs after: a list may name a node written later.
  std::vector<int> ids;
  std::map<std::string, int> table;
  const int scope = scopes++;
  for (auto &[item, name] : entries) {
    GraphNode node;
    node.isLayer = item->type == Item::Type::Layer;
    node.layer = item->layer;
    node.layer.name = prefix + name;
    ids.push_back(static_cast<int>(nodes.size()));
    if (name != "input")
      table.insert({name, ids.back()});
    // Within a list duplicates were reported above; across lists a repeat's
    // "stage.0.conv" can still meet a group's.
    auto [it, inserted] =
        fullNames.insert({node.layer.name, {item->layer.pos, scope}});
    if (!inserted && it->second.second != scope)
      error(item->layer.pos, "duplicate layer name '" + node.layer.name +
                                 "' (first used at line " +
                                 std::to_string(it->second.first.line) + ")");
    nodes.push_back(std::move(node));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const Item &item = *entries[i].first;
    std::vector<int> inputs;
    if (item.inputs.empty())
      inputs.push_back(i == 0 ? scopeInput : ids[i - 1]);
    for (const NodeRef &ref : item.inputs)
      inputs.push_back(lookup(ref, table, scopeInput));
    if (item.type != Item::Type::Group) {
      nodes[ids[i]].inputs = inputs;
      continue;
    }
    GraphNode in;
    in.visible = false;
    in.layer.name = nodes[ids[i]].layer.name + ".input";
    in.layer.pos = item.layer.pos;
    in.inputs = inputs;
    int inId = static_cast<int>(nodes.size());
    nodes.push_back(std::move(in));
    int out = resolveScope(item.body, nodes[ids[i]].layer.name + ".",
                           item.numbered, inId);
    nodes[ids[i]].inputs = {out};
  }
  return ids.empty() ? scopeInput : ids.back();
}

/// Reports each cycle once, as the chain of names data flows through.
/// Returns true if there was one.
bool GraphResolver::reportCycles() {
  enum { White, OnPath, Done };
  std::vector<int> state(nodes.size(), White);
  std::vector<int> path;
  bool found = false;
  // Depth-first along inputs; `path` goes from a consumer to its producers.
  std::function<void(int)> visit = [&](int id) {
    state[id] = OnPath;
    path.push_back(id);
    for (int in : nodes[id].inputs) {
      if (in < 0 || state[in] == Done)
        continue;
      if (state[in] == White) {
        visit(in);
        continue;
      }
      found = true;
      auto start = std::find(path.begin(), path.end(), in);
      std::vector<std::string> names;
      int first = *start;
      for (auto it = path.rbegin(); it != std::make_reverse_iterator(start);
           ++it)
        if (nodes[*it].visible) {
          names.push_back(nodes[*it].layer.name);
          if (!nodes[first].visible || *it < first)
            first = *it;
        }
      if (names.empty())
        names.push_back(nodes[first].layer.name);
      // Start the chain at the node the message points to.
      auto at = std::find(names.begin(), names.end(), nodes[first].layer.name);
      std::rotate(names.begin(), at == names.end() ? names.begin() : at,
                  names.end());
      std::string chain;
      for (const std::string &name : names)
        chain += name + " -> ";
      error(nodes[first].layer.pos, "the inputs form a cycle: " + chain +
                                        names.front() +
                                        "; a node's input must be computed "
                                        "before it");
    }
    path.pop_back();
    state[id] = Done;
  };
  for (size_t id = 0; id < nodes.size(); ++id)
    if (state[id] == White)
      visit(static_cast<int>(id));
  return found;
}

void GraphResolver::reportUnused(int output) {
  for (const GraphNode &node : nodes)
    for (int in : node.inputs)
      if (in >= 0)
        ++nodes[in].consumers;
  for (size_t id = 0; id < nodes.size(); ++id) {
    const GraphNode &node = nodes[id];
    if (node.visible && node.consumers == 0 && static_cast<int>(id) != output)
      error(node.layer.pos,
            "the result of '" + node.layer.name +
                "' is never used: no later node names it in 'input' and it "
                "is not the last node of its list (the list's output)");
  }
}

/// Stores the layers, each after its inputs; among ready layers the first
/// written goes first, so a file in dependency order keeps its order.
void GraphResolver::emit() {
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> readers(nodes.size());
  for (size_t id = 0; id < nodes.size(); ++id) {
    if (!nodes[id].isLayer)
      continue;
    for (int &in : nodes[id].inputs) {
      in = real(in);
      if (in >= 0) {
        ++pending[id];
        readers[in].push_back(static_cast<int>(id));
      }
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t id = 0; id < nodes.size(); ++id)
    if (nodes[id].isLayer && pending[id] == 0)
      ready.push(static_cast<int>(id));
  std::vector<int> index(nodes.size(), kNetworkInput);
  while (!ready.empty()) {
    int id = ready.top();
    ready.pop();
    LayerSpec layer = nodes[id].layer;
    layer.inputs.clear();
    for (int in : nodes[id].inputs)
      layer.inputs.push_back(in >= 0 ? index[in] : kNetworkInput);
    index[id] = static_cast<int>(spec.layers.size());
    spec.layers.push_back(std::move(layer));
    for (int reader : readers[id])
      if (--pending[reader] == 0)
        ready.push(reader);
  }
}

bool GraphResolver::resolve(const std::vector<Item> &top, bool allNodesRead) {
  int output = resolveScope(top, "", /*numbered=*/false, kNetworkInput);
  if (tooMany)
    return false;
  // An unknown input or a cycle can make other nodes look unused.
  if (!reportCycles() && !unresolved && allNodesRead)
    reportUnused(output);
  if (failed)
    return false;
  if (!allNodesRead)
    return false;
  if (real(output) == kNetworkInput) {
    error(top.empty() ? SourcePos{} : top.front().layer.pos,
          "the network computes nothing: every layer is skipped");
    return false;
  }
  emit();
  return true;
}

} // namespace

bool resolveGraph(const std::vector<Item> &top, NetworkSpec &spec,
                  bool allNodesRead, const SpecDiagnosticFn &error) {
  return GraphResolver(spec, error).resolve(top, allNodesRead);
}

} // namespace cnnc
