// Layer lists: layers, `repeat`, `sequential` and block instances, the
// `blocks:` they come from and the `$arguments` inside them.
#include "SpecParser.h"

#include "cnnc/importer/LayerTable.h"
#include "cnnc/importer/Suggest.h"

#include <set>

namespace cnnc {

namespace {
/// Entries of a layer list that are not layers.
const char *const kRepeat = "repeat";
const char *const kSequential = "sequential";
} // namespace

std::vector<Item> SpecParser::parseLayers(const YAML::Node &node) {
  reader.substitute = [this](const YAML::Node &n) { return arg(n); };
  std::vector<Item> items = parseLayerList(node, 0);
  reader.substitute = nullptr;
  return items;
}

YAML::Node SpecParser::arg(const YAML::Node &node) {
  if (!node.IsScalar() || node.Scalar().size() < 2 || node.Scalar()[0] != '$')
    return node;
  SourcePos pos = YamlReader::posOf(node);
  if (instances.empty()) {
    reader.error(pos, "'" + node.Scalar() +
                          "' names a block argument, but this is "
                          "not inside the layers of a block");
    reader.silence(pos);
    return node;
  }
  const Instance &instance = instances.back();
  auto it = instance.args.find(node.Scalar().substr(1));
  if (it != instance.args.end())
    return it->second;
  std::vector<std::string> names;
  for (const auto &[name, value] : instance.args)
    names.push_back("$" + name);
  std::string message = "unknown argument '" + node.Scalar() + "' of block '" +
                        instance.block + "'";
  if (auto near = nearestMatch(node.Scalar(), names))
    message += "; did you mean '" + *near + "'?";
  else if (names.empty())
    message += " (it has no arguments)";
  else
    message += " (its arguments: " + joinNames(names) + ")";
  reader.error(pos, message);
  reader.silence(pos);
  return node;
}

void SpecParser::parseBlocks(const YAML::Node &node) {
  if (!node.IsMap()) {
    reader.error(node, "'blocks' must be a mapping of block names to "
                       "{args: [...], layers: [...]}, got " +
                           YamlReader::describe(node));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar() || !isValidLayerName(key.Scalar())) {
      reader.error(key, "a block name must be letters, digits and '_', got " +
                            YamlReader::describe(key));
      continue;
    }
    const std::string &name = key.Scalar();
    bool builtIn = name == kRepeat || name == kSequential;
    builtIn |= findLayer(name) != nullptr;
    if (builtIn) {
      reader.error(key, "block '" + name +
                            "' has the name of a built-in layer; "
                            "choose another name");
      continue;
    }
    if (blocks.count(name)) {
      reader.error(key, "duplicate block '" + name + "'");
      continue;
    }
    if (!value.IsMap()) {
      reader.error(value,
                   "block '" + name +
                       "' must be a mapping such as "
                       "{args: [planes, stride: 1], layers: [...]}, got " +
                       YamlReader::describe(value));
      continue;
    }
    auto keys = reader.keysOf(value, {"args", "layers", "sequential"},
                              "block '" + name + "'");
    if (!keys.count("layers")) {
      if (!reader.wasSuggested("layers"))
        reader.error(key, "block '" + name +
                              "' needs 'layers', the list of its layers");
      continue;
    }
    BlockDef def;
    def.pos = YamlReader::posOf(key);
    def.layers = keys["layers"].second;
    if (keys.count("sequential")) {
      const YAML::Node &flag = keys["sequential"].second;
      // A bad flag is reported and the block kept, so that its uses are
      // not reported as unknown layers.
      if (!flag.IsScalar() || !YAML::convert<bool>::decode(flag, def.numbered))
        reader.error(flag, "'sequential' of a block is true or false (true: "
                           "its unnamed layers are named by their index, as "
                           "in an nn.Sequential), got " +
                               YamlReader::describe(flag));
    }
    if (keys.count("args")) {
      const YAML::Node &args = keys["args"].second;
      if (!args.IsSequence()) {
        reader.error(
            args, "'args' of a block is a list of argument names, with "
                  "defaults written 'name: value', e.g. [planes, stride: 1]");
        continue;
      }
      std::set<std::string> seen;
      for (const YAML::Node &a : args) {
        const bool withDefault = a.IsMap() && a.size() == 1;
        const YAML::Node argName = withDefault ? a.begin()->first : a;
        if (!argName.IsScalar() || !isValidLayerName(argName.Scalar()) ||
            argName.Scalar() == "name" || argName.Scalar() == "input" ||
            argName.Scalar() == "if") {
          reader.error(
              a, "a block argument is a name of letters, digits and '_' "
                 "other than name, input and if (or 'name: default'), got " +
                     YamlReader::describe(argName));
          continue;
        }
        if (!seen.insert(argName.Scalar()).second) {
          reader.error(argName,
                       "duplicate argument '" + argName.Scalar() + "'");
          continue;
        }
        def.args.push_back(
            {argName.Scalar(), !withDefault,
             withDefault ? YAML::Node(a.begin()->second) : YAML::Node()});
      }
    }
    blocks.emplace(name, std::move(def));
  }
}

std::optional<Item> SpecParser::parseLayer(const YAML::Node &entry, int depth) {
  // `- $activation` in a block body picks a layer by argument.
  const YAML::Node node = arg(entry);
  Item item;
  item.layer.pos = YamlReader::posOf(node);
  std::vector<std::string> names;
  for (const LayerDef &def : layerTable())
    names.push_back(def.name);
  names.push_back(kSequential);
  for (auto &[n, block] : blocks)
    names.push_back(n);
  auto isGroup = [&](const std::string &name) {
    return name == kSequential || blocks.count(name);
  };
  auto defOf = [&](const YAML::Node &nameNode) -> const LayerDef * {
    const std::string &name = nameNode.Scalar();
    if (const LayerDef *def = findLayer(name))
      return def;
    std::string message = "unknown layer '" + name + "'";
    if (auto near = nearestMatch(name, names))
      message += "; did you mean '" + *near + "'?";
    else
      message += " (known layers: " + joinNames(names) + ", and repeat)";
    reader.error(nameNode, message);
    return nullptr;
  };
  auto finish = [&](Item &item, const YAML::Node &args) -> std::optional<Item> {
    const LayerDef &def = *item.layer.def;
    item.namePrefix = def.namePrefix.empty() ? def.name : def.namePrefix;
    if (!parseArguments(item, args))
      return std::nullopt;
    return item;
  };

  if (node.IsScalar()) {
    const YAML::Node none(YAML::NodeType::Null);
    if (isGroup(node.Scalar()))
      return parseGroup(node.Scalar(), node, none, depth);
    item.layer.def = defOf(node);
    if (!item.layer.def)
      return std::nullopt;
    return finish(item, none);
  }
  if (node.IsMap()) {
    if (node[kRepeat])
      return parseRepeat(node, depth);
    if (node.size() != 1) {
      reader.error(node,
                   "a layer is written as 'op' or 'op: {arguments}' with one "
                   "op per list entry; this entry has " +
                       std::to_string(node.size()) + " keys");
      return std::nullopt;
    }
    const YAML::Node key = node.begin()->first;
    const YAML::Node args = node.begin()->second;
    if (!key.IsScalar()) {
      reader.error(key,
                   "expected a layer name, got " + YamlReader::describe(key));
      return std::nullopt;
    }
    if (isGroup(key.Scalar()))
      return parseGroup(key.Scalar(), key, args, depth);
    item.layer.def = defOf(key);
    if (!item.layer.def)
      return std::nullopt;
    item.layer.pos = YamlReader::posOf(key);
    return finish(item, args);
  }
  reader.error(node,
               "expected a layer such as 'relu' or 'conv2d: {...}', got " +
                   YamlReader::describe(node));
  return std::nullopt;
}

std::optional<Item> SpecParser::parseGroup(const std::string &kind,
                                           const YAML::Node &key,
                                           const YAML::Node &args, int depth) {
  Item item;
  item.type = Item::Type::Group;
  item.layer.pos = YamlReader::posOf(key);
  item.namePrefix = kind;
  const bool sequential = kind == kSequential;
  item.numbered = sequential || blocks.at(kind).numbered;
  std::vector<std::string> allowed{"name", "input", "if"};
  if (sequential)
    allowed.push_back("layers");
  else
    for (const BlockDef::Arg &a : blocks.at(kind).args)
      allowed.push_back(a.name);
  if (!args.IsNull() && !args.IsMap()) {
    reader.error(args, "arguments of " + kind +
                           " must be a mapping such as "
                           "{name: ..., ...}, got " +
                           YamlReader::describe(args));
    return std::nullopt;
  }
  const YAML::Node &where = args.IsNull() ? key : args;
  KeyMap keys;
  if (args.IsMap())
    keys = reader.keysOf(args, allowed, kind + " arguments");
  std::set<std::string> misspelt = reader.suggestions();
  bool ok = parseNodeKeys(item, keys);
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar())) {
      reader.error(n, "'name' must be letters, digits and '_' (it prefixes the "
                      "names inside, as in 'layer1.conv1.weight'), got " +
                          YamlReader::describe(n));
      ok = false;
    } else {
      item.layer.name = n.Scalar();
      item.explicitName = true;
    }
  }

  if (sequential) {
    if (!keys.count("layers")) {
      if (!misspelt.count("layers"))
        reader.error(where,
                     "sequential needs 'layers', the list of its layers");
      return std::nullopt;
    }
    item.body = parseLayerList(keys["layers"].second, depth + 1);
  } else {
    std::string chain;
    for (const Instance &outer : instances)
      chain += outer.block + " -> ";
    for (const Instance &outer : instances)
      if (outer.block == kind) {
        reader.error(key, "block '" + kind + "' contains itself (" + chain +
                              kind + ")");
        return std::nullopt;
      }
    if (++instanceCount > kMaxLayers) {
      reader.error(
          key, "more than " + std::to_string(kMaxLayers) +
                   " block instances; check the blocks for runaway nesting");
      return std::nullopt;
    }
    Instance instance{kind, {}};
    for (const BlockDef::Arg &a : blocks.at(kind).args) {
      if (keys.count(a.name)) {
        instance.args.emplace(a.name, keys[a.name].second);
      } else if (!a.required) {
        instance.args.emplace(a.name, a.value);
      } else {
        if (!misspelt.count(a.name))
          reader.error(where, "block '" + kind + "' needs the argument '" +
                                  a.name + "'");
        ok = false;
      }
    }
    // Without all its arguments the body would only repeat that mistake.
    if (!ok)
      return std::nullopt;
    instances.push_back(std::move(instance));
    item.body = parseLayerList(blocks.at(kind).layers, depth + 1);
    instances.pop_back();
  }
  if (!ok)
    return std::nullopt;
  if (item.type == Item::Type::Skipped)
    item.body.clear();
  return item;
}

bool SpecParser::parseNodeKeys(Item &item, KeyMap &keys) {
  bool ok = true;
  auto ref = [&](const YAML::Node &n) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      reader.error(n,
                   "an input is the name of an earlier node of this list, or "
                   "'input' (the list's input), got " +
                       YamlReader::describe(n));
      ok = false;
      return;
    }
    item.inputs.push_back({n.Scalar(), YamlReader::posOf(n)});
  };
  if (keys.count("input"))
    ref(keys["input"].second);
  if (keys.count("inputs")) {
    const YAML::Node &list = keys["inputs"].second;
    const LayerDef &def = *item.layer.def;
    const bool counted =
        list.IsSequence() &&
        (def.arity == LayerDef::kTwoOrMore ? list.size() >= 2
                                           : int(list.size()) == def.arity);
    if (!counted) {
      reader.error(list, "'inputs' of " + def.name + " must be " + def.needs +
                             ", got " +
                             (list.IsSequence()
                                  ? "a list of " + std::to_string(list.size())
                                  : YamlReader::describe(list)));
      ok = false;
    } else {
      for (const YAML::Node &n : list)
        ref(arg(n));
    }
  }
  if (keys.count("if")) {
    if (auto condition = reader.boolean(keys["if"].second, "if")) {
      if (!*condition)
        item.type = Item::Type::Skipped;
    } else {
      ok = false;
    }
  }
  return ok;
}

std::optional<Item> SpecParser::parseRepeat(const YAML::Node &node, int depth) {
  auto keys = reader.keysOf(node, {kRepeat, "layers", "name"}, "repeat block");
  Item item;
  item.type = Item::Type::Repeat;
  // 0: not a valid count (reader.integer() accepts only counts of at least 1).
  int64_t count = reader.integer(keys[kRepeat].second, kRepeat, 1).value_or(0);
  if (count > kMaxRepeat) {
    reader.error(keys[kRepeat].second, "repeat count " + std::to_string(count) +
                                           " is too large (at most " +
                                           std::to_string(kMaxRepeat) + ")");
    count = 0;
  }
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar()))
      reader.error(n,
                   "repeat 'name' must be a name of letters, digits and '_'");
    else
      item.repeatName = n.Scalar();
  }
  if (!keys.count("layers")) {
    reader.error(node,
                 "repeat block needs 'layers', the list of layers to repeat");
    return std::nullopt;
  }
  item.body = parseLayerList(keys["layers"].second, depth + 1);
  if (count == 0)
    return std::nullopt;
  item.count = count;
  item.layer.pos = YamlReader::posOf(node);
  return item;
}

std::vector<Item> SpecParser::parseLayerList(const YAML::Node &node,
                                             int depth) {
  std::vector<Item> items;
  if (depth > 16) {
    reader.error(node, "layer lists are nested too deeply (at most 16 levels)");
    return items;
  }
  if (!node.IsSequence()) {
    reader.error(node, "'layers' must be a list of layers, got " +
                           YamlReader::describe(node));
    return items;
  }
  if (node.size() == 0)
    reader.error(node, "'layers' is empty; a network needs at least one layer");
  for (const YAML::Node &entry : node) {
    if (auto item = parseLayer(entry, depth)) {
      items.push_back(std::move(*item));
      continue;
    }
    // A node that could not be read stands for its input, so that the
    // graph's own checks still run without reporting its absence.
    Item placeholder;
    placeholder.type = Item::Type::Skipped;
    placeholder.layer.pos = YamlReader::posOf(entry);
    placeholder.namePrefix = "layer";
    if (entry.IsMap() && entry.size() == 1 && entry.begin()->second.IsMap()) {
      const YAML::Node name = entry.begin()->second["name"];
      if (name && name.IsScalar() && isValidLayerName(name.Scalar())) {
        placeholder.layer.name = name.Scalar();
        placeholder.explicitName = true;
      }
    }
    items.push_back(std::move(placeholder));
  }
  return items;
}

} // namespace cnnc
