// Each layer's arguments, read as its entry of the layer table declares
// them: PyTorch's names, an int or [h, w] wherever PyTorch takes either,
// limits, defaults, and the values cnnc does not support yet.
#include "SpecParser.h"

#include "cnnc/importer/LayerTable.h"
#include "cnnc/importer/Suggest.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

namespace cnnc {

namespace {

/// The keys a layer's mapping may hold: its name, its arguments, and the
/// keys of a graph node: `input` and `if`, or `inputs` for two inputs.
std::vector<std::string> allowedKeys(const LayerDef &def) {
  std::vector<std::string> keys{"name"};
  if (def.readsList())
    keys.push_back("inputs");
  for (const ArgSpec &a : def.args)
    keys.push_back(a.name);
  if (!def.readsList())
    keys.insert(keys.end(), {"input", "if"});
  return keys;
}

bool hasRequiredArguments(const LayerDef &def) {
  if (def.readsList())
    return true;
  for (const ArgSpec &a : def.args)
    if (a.presence == ArgSpec::Presence::Required)
      return true;
  return false;
}

/// Reads one of `spec.choices` into value.choice; reports another word
/// (suggesting the nearest) after "'<name>' must be <expected>".
bool readChoice(YamlReader &reader, const ArgSpec &spec, const YAML::Node &node,
                const std::string &expected, ArgValue &value) {
  const std::string word = node.IsScalar() ? node.Scalar() : "";
  if (std::find(spec.choices.begin(), spec.choices.end(), word) !=
      spec.choices.end()) {
    value.choice = word;
    return true;
  }
  std::string message = "'" + spec.name + "' must be " + expected + ", got " +
                        YamlReader::describe(node);
  if (auto near = nearestMatch(word, spec.choices))
    message += "; did you mean '" + *near + "'?";
  reader.error(node, message);
  return false;
}

/// Whether `node` is a word rather than a number or a list.
bool isWord(const YAML::Node &node) {
  return node.IsScalar() && !node.Scalar().empty() &&
         std::isalpha(static_cast<unsigned char>(node.Scalar()[0]));
}

/// Reads the value of argument `spec` from `node`; reports what is wrong.
std::optional<ArgValue> readArgument(YamlReader &reader, const ArgSpec &spec,
                                     const YAML::Node &node) {
  if (!spec.nullMessage.empty() && node.IsNull()) {
    reader.error(node, spec.nullMessage);
    return std::nullopt;
  }
  ArgValue value;
  value.pos = YamlReader::posOf(node);
  const std::string &name = spec.name;
  switch (spec.type) {
  case ArgSpec::Type::Integer: {
    auto v = reader.integer(node, name, int64_t(spec.min));
    if (!v)
      return std::nullopt;
    value.integer = *v;
    break;
  }
  case ArgSpec::Type::Pair: {
    if (!spec.choices.empty() && isWord(node)) {
      if (!readChoice(reader, spec, node,
                      "an integer, [h, w] or one of " + joinNames(spec.choices),
                      value))
        return std::nullopt;
      break;
    }
    auto v = reader.pair(node, name, int64_t(spec.min));
    if (!v)
      return std::nullopt;
    value.pair = *v;
    break;
  }
  case ArgSpec::Type::Flag: {
    auto v = reader.boolean(node, name);
    if (!v)
      return std::nullopt;
    value.flag = *v;
    break;
  }
  case ArgSpec::Type::Real: {
    auto v = reader.real(node, name, spec.min);
    if (!v)
      return std::nullopt;
    if (spec.positive && !(*v > spec.min)) {
      reader.error(node,
                   "'" + name + "' must be positive, got " + node.Scalar());
      return std::nullopt;
    }
    if (spec.max && *v > *spec.max) {
      char max[32];
      std::snprintf(max, sizeof max, "%g", *spec.max);
      reader.error(node, "'" + name + "' must be at most " + max + ", got " +
                             node.Scalar());
      return std::nullopt;
    }
    value.real = *v;
    break;
  }
  case ArgSpec::Type::Choice:
    if (!readChoice(reader, spec, node, "one of " + joinNames(spec.choices),
                    value))
      return std::nullopt;
    break;
  }
  if (spec.onlyValue && (spec.type == ArgSpec::Type::Flag
                             ? value.flag != spec.onlyValue->flag
                             : value.integer != spec.onlyValue->integer)) {
    reader.error(node, spec.onlyValueMessage);
    return std::nullopt;
  }
  return value;
}

} // namespace

bool SpecParser::parseArguments(Item &item, const YAML::Node &args) {
  LayerSpec &layer = item.layer;
  const LayerDef &def = *layer.def;
  if (args.IsNull() && hasRequiredArguments(def)) {
    reader.error(args, def.name + " needs " + def.needs);
    return false;
  }
  if (!args.IsNull() && !args.IsMap()) {
    reader.error(args, "arguments of " + def.name +
                           " must be a mapping such as "
                           "{name: ..., ...}, got " +
                           YamlReader::describe(args));
    return false;
  }
  KeyMap keys;
  if (args.IsMap())
    keys = reader.keysOf(args, allowedKeys(def), def.name + " arguments");
  const std::set<std::string> misspelt = reader.suggestions();
  bool ok = parseNodeKeys(item, keys);

  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar())) {
      reader.error(n, "layer 'name' must be letters, digits and '_' (it "
                      "prefixes parameter names such as 'conv1.weight'), "
                      "got " +
                          YamlReader::describe(n));
      ok = false;
    } else {
      layer.name = n.Scalar();
      item.explicitName = true;
    }
  }
  if (def.readsList() && !keys.count("inputs") && !misspelt.count("inputs")) {
    reader.error(args, def.name + " needs 'inputs', " + def.needs);
    ok = false;
  }

  for (const ArgSpec &spec : def.args) {
    auto it = keys.find(spec.name);
    if (it == keys.end()) {
      switch (spec.presence) {
      case ArgSpec::Presence::Required:
        if (!misspelt.count(spec.name))
          reader.error(args, def.name + " needs '" + spec.name + "'");
        ok = false;
        break;
      case ArgSpec::Presence::Defaulted:
        if (!spec.defaultFrom.empty()) {
          if (const ArgValue *other = layer.args.given(spec.defaultFrom)) {
            ArgValue copy = *other;
            copy.pos.reset();
            layer.args.set(spec.name, copy);
          }
        } else {
          layer.args.set(spec.name, spec.defaultValue);
        }
        break;
      case ArgSpec::Presence::Optional:
        break;
      }
      continue;
    }
    if (auto value = readArgument(reader, spec, it->second.second))
      layer.args.set(spec.name, *value);
    else
      ok = false;
  }
  return ok;
}

} // namespace cnnc
