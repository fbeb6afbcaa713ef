// YAML front end: turns a network file (the sequential form, or the graph
// form with named inputs, `sequential:` lists and `blocks:`) into the layer
// tree of LayerTree.h; GraphResolver.cpp then names and orders the layers.
//
// Every problem is reported with its position and parsing continues, so a
// user sees all mistakes of a file in one run. yaml-cpp reports through
// exceptions; they are caught here and never cross this file's boundary.
#include "LayerTree.h"
#include "cnnc/importer/NetworkSpec.h"
#include "cnnc/importer/Suggest.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <map>
#include <set>
#include <tuple>

namespace cnnc {

const char *layerKindName(LayerKind kind) {
  switch (kind) {
  case LayerKind::Conv2d:
    return "conv2d";
  case LayerKind::Linear:
    return "linear";
  case LayerKind::Relu:
    return "relu";
  case LayerKind::Tanh:
    return "tanh";
  case LayerKind::Sigmoid:
    return "sigmoid";
  case LayerKind::MaxPool2d:
    return "maxpool2d";
  case LayerKind::AvgPool2d:
    return "avgpool2d";
  case LayerKind::AdaptiveAvgPool2d:
    return "adaptive_avgpool2d";
  case LayerKind::Flatten:
    return "flatten";
  case LayerKind::Add:
    return "add";
  case LayerKind::BatchNorm2d:
    return "batchnorm2d";
  }
  return "?";
}

namespace {

using cnn::shape::Pair;

const std::vector<std::pair<std::string, LayerKind>> kLayerKinds = {
    {"conv2d", LayerKind::Conv2d},
    {"linear", LayerKind::Linear},
    {"relu", LayerKind::Relu},
    {"tanh", LayerKind::Tanh},
    {"sigmoid", LayerKind::Sigmoid},
    {"maxpool2d", LayerKind::MaxPool2d},
    {"avgpool2d", LayerKind::AvgPool2d},
    {"adaptive_avgpool2d", LayerKind::AdaptiveAvgPool2d},
    {"flatten", LayerKind::Flatten},
    {"add", LayerKind::Add},
    {"batchnorm2d", LayerKind::BatchNorm2d},
};

/// Entries of a layer list that are not layers.
const char *const kRepeat = "repeat";
const char *const kSequential = "sequential";

/// Prefix of generated names: the n-th unnamed conv2d is "conv<n>", ...
const char *autoNamePrefix(LayerKind kind) {
  switch (kind) {
  case LayerKind::Conv2d:
    return "conv";
  case LayerKind::Linear:
    return "fc";
  case LayerKind::MaxPool2d:
    return "pool";
  case LayerKind::AvgPool2d:
    return "avgpool";
  case LayerKind::AdaptiveAvgPool2d:
    return "adaptive_avgpool";
  case LayerKind::BatchNorm2d:
    return "bn";
  default:
    return layerKindName(kind);
  }
}

/// The keys of a graph node besides its arguments: its input (the previous
/// node by default) and a condition that, when false, leaves the node out.
const std::vector<std::string> kNodeKeys = {"input", "if"};

/// The arguments each layer kind accepts (PyTorch's names), and the node
/// keys: add reads `inputs`, every other layer one `input`.
std::vector<std::string> allowedArguments(LayerKind kind);
std::vector<std::string> allowedKeys(LayerKind kind) {
  std::vector<std::string> keys = allowedArguments(kind);
  if (kind != LayerKind::Add)
    keys.insert(keys.end(), kNodeKeys.begin(), kNodeKeys.end());
  return keys;
}

std::vector<std::string> allowedArguments(LayerKind kind) {
  switch (kind) {
  case LayerKind::Conv2d:
    return {"name",   "in_channels", "out_channels", "kernel_size",
            "stride", "padding",     "dilation",     "groups",
            "bias",   "trainable"};
  case LayerKind::Linear:
    return {"name", "in_features", "out_features", "bias", "trainable"};
  case LayerKind::Relu:
    return {"name", "inplace"};
  case LayerKind::Tanh:
  case LayerKind::Sigmoid:
    return {"name"};
  case LayerKind::MaxPool2d:
    return {"name", "kernel_size", "stride", "padding", "dilation"};
  case LayerKind::AvgPool2d:
    return {"name", "kernel_size", "stride", "padding", "count_include_pad"};
  case LayerKind::AdaptiveAvgPool2d:
    return {"name", "output_size"};
  case LayerKind::Flatten:
    return {"name", "start_dim"};
  case LayerKind::Add:
    return {"name", "inputs"};
  case LayerKind::BatchNorm2d:
    return {"name",   "num_features",        "eps",      "momentum",
            "affine", "track_running_stats", "trainable"};
  }
  return {};
}

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
};

class SpecParser {
public:
  SpecParser(NetworkSpec &spec, const SpecDiagnosticFn &diagnose)
      : spec(spec), diagnose(diagnose) {}

  bool parse(const std::string &text, const std::string &defaultName);

private:
  NetworkSpec &spec;
  const SpecDiagnosticFn &diagnose;
  bool failed = false;
  /// Keys suggested for misspelt ones by the last keysOf(): a required key
  /// that was misspelt is not reported missing a second time.
  std::set<std::string> suggested;
  /// Each block body is parsed once per instance: a mistake that does not
  /// depend on the arguments is reported once.
  std::set<std::tuple<unsigned, unsigned, std::string>> reported;
  /// Where an unknown `$argument` was reported: nothing more is said there.
  std::set<std::pair<unsigned, unsigned>> badArguments;

  std::map<std::string, BlockDef> blocks;
  /// The block instances being parsed, innermost last; `$name` reads the
  /// innermost one's arguments.
  struct Instance {
    std::string block;
    std::map<std::string, YAML::Node> args;
  };
  std::vector<Instance> instances;
  int64_t instanceCount = 0;
  /// `$name` is only read in layer lists; the train recipe's values are
  /// taken as written.
  bool inLayers = false;

  static SourcePos posOf(const YAML::Node &node) {
    YAML::Mark m = node.Mark();
    if (m.is_null())
      return {};
    return {static_cast<unsigned>(m.line + 1),
            static_cast<unsigned>(m.column + 1)};
  }
  void error(SourcePos pos, const std::string &message) {
    failed = true;
    if (badArguments.count({pos.line, pos.column}) ||
        !reported.insert({pos.line, pos.column, message}).second)
      return;
    diagnose(pos, message);
  }
  void error(const YAML::Node &node, const std::string &message) {
    error(posOf(node), message);
  }

  static std::string describe(const YAML::Node &node) {
    switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
    }
  }

  /// Checks a mapping's keys against `allowed`; reports unknown keys (with the
  /// nearest allowed one) and duplicates. Returns key -> value node.
  std::map<std::string, std::pair<YAML::Node, YAML::Node>>
  keysOf(const YAML::Node &map, const std::vector<std::string> &allowed,
         const std::string &context);

  std::optional<int64_t> integer(const YAML::Node &node,
                                 const std::string &what, int64_t min);
  std::optional<Pair> pair(const YAML::Node &node, const std::string &what,
                           int64_t min);
  std::optional<bool> boolean(const YAML::Node &node, const std::string &what);
  std::optional<double> real(const YAML::Node &node, const std::string &what,
                             double min);

  /// `$name` inside a block body -> the instance's argument node; any
  /// other node as it is.
  YAML::Node arg(const YAML::Node &node);

  void parseInput(const YAML::Node &node);
  void parseBlocks(const YAML::Node &node);
  std::vector<Item> parseLayerList(const YAML::Node &node, int depth);
  std::optional<Item> parseLayer(const YAML::Node &node, int depth);
  std::optional<Item> parseRepeat(const YAML::Node &node, int depth);
  std::optional<Item> parseGroup(const std::string &kind, const YAML::Node &key,
                                 const YAML::Node &args, int depth);
  bool
  parseNodeKeys(Item &item,
                std::map<std::string, std::pair<YAML::Node, YAML::Node>> &keys);
  bool parseArguments(Item &item, const YAML::Node &args);
  void parseTrain(const YAML::Node &node);
  void parseSgd(const YAML::Node &node);
  void parseLrSchedule(const YAML::Node &node);
  std::optional<std::vector<double>> reals(const YAML::Node &node,
                                           const std::string &what, double min);
  void parseNormalize(const YAML::Node &node);
  void parseAugment(const YAML::Node &node);
  void parseRandomResizedCrop(const YAML::Node &key, const YAML::Node &node);
  bool parseRange(const YAML::Node &node, const std::string &what,
                  double (&out)[2]);
  void parseEvalTransform(const YAML::Node &node);
  void parseFreeze(const YAML::Node &node);
  void parseInit(const YAML::Node &node);
};

std::map<std::string, std::pair<YAML::Node, YAML::Node>>
SpecParser::keysOf(const YAML::Node &map,
                   const std::vector<std::string> &allowed,
                   const std::string &context) {
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> keys;
  suggested.clear();
  for (auto it = map.begin(); it != map.end(); ++it) {
    // A copy: yaml-cpp's operator-> returns a temporary proxy, so a
    // reference to it->first would dangle (ASan caught it).
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      error(key,
            "expected a key name in " + context + ", got " + describe(key));
      continue;
    }
    const std::string &name = key.Scalar();
    bool known = false;
    for (const std::string &a : allowed)
      known |= a == name;
    if (!known) {
      std::string message = "unknown key '" + name + "' in " + context;
      if (auto near = nearestMatch(name, allowed)) {
        message += "; did you mean '" + *near + "'?";
        suggested.insert(*near);
      } else {
        message += " (expected one of: " + joinNames(allowed) + ")";
      }
      error(key, message);
      continue;
    }
    if (keys.count(name)) {
      error(key, "duplicate key '" + name + "' in " + context);
      continue;
    }
    keys[name] = {key, arg(value)};
  }
  return keys;
}

std::optional<int64_t> SpecParser::integer(const YAML::Node &node,
                                           const std::string &what,
                                           int64_t min) {
  if (!node.IsScalar()) {
    error(node, "'" + what + "' must be an integer, got " + describe(node));
    return std::nullopt;
  }
  const std::string &text = node.Scalar();
  int64_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && end == text.data() + text.size() &&
       value > kMaxDimension)) {
    error(node, "'" + what + "' is too large: " + text + " (at most " +
                    std::to_string(kMaxDimension) + ")");
    return std::nullopt;
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    error(node, "'" + what + "' must be an integer, got '" + text + "'");
    return std::nullopt;
  }
  if (value < min) {
    error(node, "'" + what + "' must be " +
                    (min == 0 ? std::string("non-negative")
                              : "at least " + std::to_string(min)) +
                    ", got " + text);
    return std::nullopt;
  }
  return value;
}

std::optional<Pair> SpecParser::pair(const YAML::Node &node,
                                     const std::string &what, int64_t min) {
  if (node.IsScalar()) {
    auto v = integer(node, what, min);
    if (!v)
      return std::nullopt;
    return Pair{*v, *v};
  }
  if (!node.IsSequence() || node.size() != 2) {
    error(node,
          "'" + what + "' must be an integer or a list [h, w], got " +
              (node.IsSequence()
                   ? "a list of " + std::to_string(node.size()) + " values"
                   : describe(node)));
    return std::nullopt;
  }
  auto h = integer(arg(node[0]), what, min),
       w = integer(arg(node[1]), what, min);
  if (!h || !w)
    return std::nullopt;
  return Pair{*h, *w};
}

std::optional<bool> SpecParser::boolean(const YAML::Node &node,
                                        const std::string &what) {
  bool value = false;
  if (node.IsScalar() && YAML::convert<bool>::decode(node, value))
    return value;
  error(node, "'" + what + "' must be true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<double> SpecParser::real(const YAML::Node &node,
                                       const std::string &what, double min) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) ||
      !(value == value)) {
    error(node, "'" + what + "' must be a number, got " + describe(node));
    return std::nullopt;
  }
  if (value < min) {
    error(node, "'" + what + "' must be at least " + std::to_string(min) +
                    ", got " + node.Scalar());
    return std::nullopt;
  }
  return value;
}

YAML::Node SpecParser::arg(const YAML::Node &node) {
  if (!inLayers || !node.IsScalar() || node.Scalar().size() < 2 ||
      node.Scalar()[0] != '$')
    return node;
  SourcePos pos = posOf(node);
  if (instances.empty()) {
    error(pos, "'" + node.Scalar() +
                   "' names a block argument, but this is "
                   "not inside the layers of a block");
    badArguments.insert({pos.line, pos.column});
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
  error(pos, message);
  badArguments.insert({pos.line, pos.column});
  return node;
}

void SpecParser::parseBlocks(const YAML::Node &node) {
  if (!node.IsMap()) {
    error(node, "'blocks' must be a mapping of block names to "
                "{args: [...], layers: [...]}, got " +
                    describe(node));
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar() || !isValidLayerName(key.Scalar())) {
      error(key, "a block name must be letters, digits and '_', got " +
                     describe(key));
      continue;
    }
    const std::string &name = key.Scalar();
    bool builtIn = name == kRepeat || name == kSequential;
    for (auto &[n, k] : kLayerKinds)
      builtIn |= n == name;
    if (builtIn) {
      error(key, "block '" + name +
                     "' has the name of a built-in layer; "
                     "choose another name");
      continue;
    }
    if (blocks.count(name)) {
      error(key, "duplicate block '" + name + "'");
      continue;
    }
    if (!value.IsMap()) {
      error(value, "block '" + name +
                       "' must be a mapping such as "
                       "{args: [planes, stride: 1], layers: [...]}, got " +
                       describe(value));
      continue;
    }
    auto keys = keysOf(value, {"args", "layers"}, "block '" + name + "'");
    if (!keys.count("layers")) {
      if (!suggested.count("layers"))
        error(key,
              "block '" + name + "' needs 'layers', the list of its layers");
      continue;
    }
    BlockDef def;
    def.pos = posOf(key);
    def.layers = keys["layers"].second;
    if (keys.count("args")) {
      const YAML::Node &args = keys["args"].second;
      if (!args.IsSequence()) {
        error(args, "'args' of a block is a list of argument names, with "
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
          error(a, "a block argument is a name of letters, digits and '_' "
                   "other than name, input and if (or 'name: default'), got " +
                       describe(argName));
          continue;
        }
        if (!seen.insert(argName.Scalar()).second) {
          error(argName, "duplicate argument '" + argName.Scalar() + "'");
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

void SpecParser::parseInput(const YAML::Node &node) {
  spec.inputPos = posOf(node);
  if (!node.IsSequence() || (node.size() != 3 && node.size() != 1)) {
    error(node, "'input' must be [channels, height, width] (or [features]) "
                "without the batch dimension, got " +
                    describe(node));
    return;
  }
  for (const YAML::Node &d : node) {
    auto v = integer(d, "input", 1);
    if (!v)
      return;
    spec.input.push_back(*v);
  }
}

bool SpecParser::parseArguments(Item &item, const YAML::Node &args) {
  LayerSpec &l = item.layer;
  const std::string kind = layerKindName(l.kind);
  if (args.IsNull()) {
    if (l.kind == LayerKind::Conv2d) {
      error(args,
            "conv2d needs arguments, e.g. {out_channels: 6, kernel_size: 5}");
      return false;
    }
    if (l.kind == LayerKind::Linear) {
      error(args, "linear needs arguments, e.g. {out_features: 10}");
      return false;
    }
    if (l.kind == LayerKind::MaxPool2d || l.kind == LayerKind::AvgPool2d) {
      error(args, kind + " needs arguments, e.g. {kernel_size: 2}");
      return false;
    }
    if (l.kind == LayerKind::Add) {
      error(args,
            "add needs the two nodes it adds, e.g. {inputs: [conv2, input]}");
      return false;
    }
    return true;
  }
  if (!args.IsMap()) {
    error(args, "arguments of " + kind +
                    " must be a mapping such as "
                    "{name: ..., ...}, got " +
                    describe(args));
    return false;
  }
  auto keys = keysOf(args, allowedKeys(l.kind), kind + " arguments");
  bool ok = parseNodeKeys(item, keys);
  auto need = [&](const char *key) -> const YAML::Node * {
    if (keys.count(key))
      return &keys[key].second;
    if (!suggested.count(key))
      error(args, kind + " needs '" + key + "'");
    ok = false;
    return nullptr;
  };
  auto setPair = [&](const char *key, Pair &field, int64_t min) {
    if (!keys.count(key))
      return;
    if (auto p = pair(keys[key].second, key, min))
      field = *p;
    else
      ok = false;
  };
  auto setInt = [&](const YAML::Node *node, const char *key, int64_t &field,
                    int64_t min) {
    if (!node)
      return;
    if (auto v = integer(*node, key, min))
      field = *v;
    else
      ok = false;
  };
  auto setBool = [&](const char *key, bool &field) {
    if (!keys.count(key))
      return;
    if (auto b = boolean(keys[key].second, key))
      field = *b;
    else
      ok = false;
  };

  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar())) {
      error(n, "layer 'name' must be letters, digits and '_' (it prefixes "
               "parameter names such as 'conv1.weight'), got " +
                   describe(n));
      ok = false;
    } else {
      l.name = n.Scalar();
      item.explicitName = true;
    }
  }

  switch (l.kind) {
  case LayerKind::Conv2d: {
    setInt(need("out_channels"), "out_channels", l.outChannels, 1);
    if (auto *k = need("kernel_size")) {
      if (auto p = pair(*k, "kernel_size", 1))
        l.kernel = *p;
      else
        ok = false;
    }
    setPair("stride", l.stride, 1);
    setPair("padding", l.padding, 0);
    setPair("dilation", l.dilation, 1);
    setBool("trainable", l.trainable);
    if (keys.count("groups"))
      setInt(&keys["groups"].second, "groups", l.groups, 1);
    setBool("bias", l.bias);
    if (keys.count("in_channels")) {
      int64_t in = 0;
      setInt(&keys["in_channels"].second, "in_channels", in, 1);
      l.inChannels = in;
      l.inChannelsPos = posOf(keys["in_channels"].second);
    }
    break;
  }
  case LayerKind::Linear:
    setInt(need("out_features"), "out_features", l.outChannels, 1);
    setBool("bias", l.bias);
    setBool("trainable", l.trainable);
    if (keys.count("in_features")) {
      int64_t in = 0;
      setInt(&keys["in_features"].second, "in_features", in, 1);
      l.inChannels = in;
      l.inChannelsPos = posOf(keys["in_features"].second);
    }
    break;
  case LayerKind::Relu: {
    bool inplace = false; // accepted for torch familiarity; has no effect
    setBool("inplace", inplace);
    break;
  }
  case LayerKind::Tanh:
  case LayerKind::Sigmoid:
    break;
  case LayerKind::MaxPool2d:
  case LayerKind::AvgPool2d:
    if (auto *k = need("kernel_size")) {
      if (auto p = pair(*k, "kernel_size", 1))
        l.kernel = *p;
      else
        ok = false;
    }
    l.stride = l.kernel; // PyTorch: stride defaults to kernel_size
    setPair("stride", l.stride, 1);
    setPair("padding", l.padding, 0);
    setPair("dilation", l.dilation, 1);
    setBool("count_include_pad", l.countIncludePad);
    break;
  case LayerKind::AdaptiveAvgPool2d:
    setPair("output_size", l.outputSize, 1);
    break;
  case LayerKind::Add:
    if (!keys.count("inputs") && !suggested.count("inputs")) {
      error(args, "add needs 'inputs', the two nodes it adds, e.g. "
                  "{inputs: [conv2, input]}");
      ok = false;
    }
    break;
  case LayerKind::BatchNorm2d: {
    if (keys.count("num_features")) {
      int64_t features = 0;
      setInt(&keys["num_features"].second, "num_features", features, 1);
      l.inChannels = features;
      l.inChannelsPos = posOf(keys["num_features"].second);
    }
    if (keys.count("eps")) {
      if (auto v = real(keys["eps"].second, "eps", 0); v && *v > 0)
        l.eps = *v;
      else {
        if (v)
          error(keys["eps"].second,
                "'eps' must be positive, got " + keys["eps"].second.Scalar());
        ok = false;
      }
    }
    if (keys.count("momentum")) {
      const YAML::Node &m = keys["momentum"].second;
      if (m.IsNull()) {
        // PyTorch's momentum=None (a cumulative average) is not supported.
        error(m, "momentum must be a number in [0, 1]; a cumulative average "
                 "(momentum None) is not supported");
        ok = false;
      } else if (auto v = real(m, "momentum", 0); v && *v <= 1) {
        l.momentum = *v;
      } else {
        if (v)
          error(m, "'momentum' must be at most 1, got " + m.Scalar());
        ok = false;
      }
    }
    for (const char *key : {"affine", "track_running_stats"}) {
      bool value = true;
      setBool(key, value);
      if (!value) {
        error(keys[key].second, std::string("batchnorm2d supports only ") +
                                    key + ": true (PyTorch's default)");
        ok = false;
      }
    }
    setBool("trainable", l.trainable);
    break;
  }
  case LayerKind::Flatten:
    if (keys.count("start_dim")) {
      int64_t startDim = 1;
      setInt(&keys["start_dim"].second, "start_dim", startDim, 0);
      if (startDim != 1) {
        error(keys["start_dim"].second,
              "flatten supports only start_dim 1 (keep the batch dimension)");
        ok = false;
      }
    }
    break;
  }
  return ok;
}

std::optional<Item> SpecParser::parseLayer(const YAML::Node &entry, int depth) {
  // `- $activation` in a block body picks a layer by argument.
  const YAML::Node node = arg(entry);
  Item item;
  item.layer.pos = posOf(node);
  std::vector<std::string> names;
  for (auto &[n, k] : kLayerKinds)
    names.push_back(n);
  names.push_back(kSequential);
  for (auto &[n, block] : blocks)
    names.push_back(n);
  auto isGroup = [&](const std::string &name) {
    return name == kSequential || blocks.count(name);
  };
  auto kindOf = [&](const YAML::Node &nameNode) -> std::optional<LayerKind> {
    const std::string &name = nameNode.Scalar();
    for (auto &[n, k] : kLayerKinds)
      if (n == name)
        return k;
    std::string message = "unknown layer '" + name + "'";
    if (auto near = nearestMatch(name, names))
      message += "; did you mean '" + *near + "'?";
    else
      message += " (known layers: " + joinNames(names) + ", and repeat)";
    error(nameNode, message);
    return std::nullopt;
  };
  auto finish = [&](Item &item, const YAML::Node &args) -> std::optional<Item> {
    item.namePrefix = autoNamePrefix(item.layer.kind);
    if (!parseArguments(item, args))
      return std::nullopt;
    return item;
  };

  if (node.IsScalar()) {
    const YAML::Node none(YAML::NodeType::Null);
    if (isGroup(node.Scalar()))
      return parseGroup(node.Scalar(), node, none, depth);
    auto kind = kindOf(node);
    if (!kind)
      return std::nullopt;
    item.layer.kind = *kind;
    return finish(item, none);
  }
  if (node.IsMap()) {
    if (node[kRepeat])
      return parseRepeat(node, depth);
    if (node.size() != 1) {
      error(node, "a layer is written as 'op' or 'op: {arguments}' with one "
                  "op per list entry; this entry has " +
                      std::to_string(node.size()) + " keys");
      return std::nullopt;
    }
    const YAML::Node key = node.begin()->first;
    const YAML::Node args = node.begin()->second;
    if (!key.IsScalar()) {
      error(key, "expected a layer name, got " + describe(key));
      return std::nullopt;
    }
    if (isGroup(key.Scalar()))
      return parseGroup(key.Scalar(), key, args, depth);
    auto kind = kindOf(key);
    if (!kind)
      return std::nullopt;
    item.layer.kind = *kind;
    item.layer.pos = posOf(key);
    return finish(item, args);
  }
  error(node, "expected a layer such as 'relu' or 'conv2d: {...}', got " +
                  describe(node));
  return std::nullopt;
}

std::optional<Item> SpecParser::parseGroup(const std::string &kind,
                                           const YAML::Node &key,
                                           const YAML::Node &args, int depth) {
  Item item;
  item.type = Item::Type::Group;
  item.layer.pos = posOf(key);
  item.namePrefix = kind;
  const bool sequential = kind == kSequential;
  item.numbered = sequential;
  std::vector<std::string> allowed{"name", "input", "if"};
  if (sequential)
    allowed.push_back("layers");
  else
    for (const BlockDef::Arg &a : blocks.at(kind).args)
      allowed.push_back(a.name);
  if (!args.IsNull() && !args.IsMap()) {
    error(args, "arguments of " + kind +
                    " must be a mapping such as "
                    "{name: ..., ...}, got " +
                    describe(args));
    return std::nullopt;
  }
  const YAML::Node &where = args.IsNull() ? key : args;
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> keys;
  if (args.IsMap())
    keys = keysOf(args, allowed, kind + " arguments");
  std::set<std::string> misspelt = suggested;
  bool ok = parseNodeKeys(item, keys);
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar())) {
      error(n, "'name' must be letters, digits and '_' (it prefixes the "
               "names inside, as in 'layer1.conv1.weight'), got " +
                   describe(n));
      ok = false;
    } else {
      item.layer.name = n.Scalar();
      item.explicitName = true;
    }
  }

  if (sequential) {
    if (!keys.count("layers")) {
      if (!misspelt.count("layers"))
        error(where, "sequential needs 'layers', the list of its layers");
      return std::nullopt;
    }
    item.body = parseLayerList(keys["layers"].second, depth + 1);
  } else {
    std::string chain;
    for (const Instance &outer : instances)
      chain += outer.block + " -> ";
    for (const Instance &outer : instances)
      if (outer.block == kind) {
        error(key,
              "block '" + kind + "' contains itself (" + chain + kind + ")");
        return std::nullopt;
      }
    if (++instanceCount > kMaxLayers) {
      error(key, "more than " + std::to_string(kMaxLayers) +
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
          error(where,
                "block '" + kind + "' needs the argument '" + a.name + "'");
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

bool SpecParser::parseNodeKeys(
    Item &item,
    std::map<std::string, std::pair<YAML::Node, YAML::Node>> &keys) {
  bool ok = true;
  auto ref = [&](const YAML::Node &n) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      error(n, "an input is the name of an earlier node of this list, or "
               "'input' (the list's input), got " +
                   describe(n));
      ok = false;
      return;
    }
    item.inputs.push_back({n.Scalar(), posOf(n)});
  };
  if (keys.count("input"))
    ref(keys["input"].second);
  if (keys.count("inputs")) {
    const YAML::Node &list = keys["inputs"].second;
    if (!list.IsSequence() || list.size() != 2) {
      error(list,
            "'inputs' must be a list of the two nodes to add, e.g. "
            "[conv2, input], got " +
                (list.IsSequence() ? "a list of " + std::to_string(list.size())
                                   : describe(list)));
      ok = false;
    } else {
      for (const YAML::Node &n : list)
        ref(arg(n));
    }
  }
  if (keys.count("if")) {
    if (auto condition = boolean(keys["if"].second, "if")) {
      if (!*condition)
        item.type = Item::Type::Skipped;
    } else {
      ok = false;
    }
  }
  return ok;
}

std::optional<Item> SpecParser::parseRepeat(const YAML::Node &node, int depth) {
  auto keys = keysOf(node, {kRepeat, "layers", "name"}, "repeat block");
  Item item;
  item.type = Item::Type::Repeat;
  // 0: not a valid count (integer() accepts only counts of at least 1).
  int64_t count = integer(keys[kRepeat].second, kRepeat, 1).value_or(0);
  if (count > kMaxRepeat) {
    error(keys[kRepeat].second, "repeat count " + std::to_string(count) +
                                    " is too large (at most " +
                                    std::to_string(kMaxRepeat) + ")");
    count = 0;
  }
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar()))
      error(n, "repeat 'name' must be a name of letters, digits and '_'");
    else
      item.repeatName = n.Scalar();
  }
  if (!keys.count("layers")) {
    error(node, "repeat block needs 'layers', the list of layers to repeat");
    return std::nullopt;
  }
  item.body = parseLayerList(keys["layers"].second, depth + 1);
  if (count == 0)
    return std::nullopt;
  item.count = count;
  item.layer.pos = posOf(node);
  return item;
}

std::vector<Item> SpecParser::parseLayerList(const YAML::Node &node,
                                             int depth) {
  std::vector<Item> items;
  if (depth > 16) {
    error(node, "layer lists are nested too deeply (at most 16 levels)");
    return items;
  }
  if (!node.IsSequence()) {
    error(node, "'layers' must be a list of layers, got " + describe(node));
    return items;
  }
  if (node.size() == 0)
    error(node, "'layers' is empty; a network needs at least one layer");
  for (const YAML::Node &entry : node) {
    if (auto item = parseLayer(entry, depth)) {
      items.push_back(std::move(*item));
      continue;
    }
    // A node that could not be read stands for its input, so that the
    // graph's own checks still run without reporting its absence.
    Item placeholder;
    placeholder.type = Item::Type::Skipped;
    placeholder.layer.pos = posOf(entry);
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

void SpecParser::parseSgd(const YAML::Node &node) {
  if (node.IsNull())
    return;
  if (!node.IsMap()) {
    error(node, "'sgd' must be a mapping such as {lr: 0.01, momentum: 0.9}");
    return;
  }
  auto keys = keysOf(node, {"lr", "momentum", "weight_decay", "nesterov"},
                     "sgd arguments");
  SgdSpec &sgd = spec.train.sgd;
  if (keys.count("lr"))
    if (auto v = real(keys["lr"].second, "lr", 0))
      sgd.lr = *v;
  if (keys.count("momentum"))
    if (auto v = real(keys["momentum"].second, "momentum", 0))
      sgd.momentum = *v;
  if (keys.count("weight_decay"))
    if (auto v = real(keys["weight_decay"].second, "weight_decay", 0))
      sgd.weightDecay = *v;
  if (keys.count("nesterov"))
    if (auto v = boolean(keys["nesterov"].second, "nesterov"))
      sgd.nesterov = *v;
}

void SpecParser::parseLrSchedule(const YAML::Node &node) {
  if (!node.IsMap() || node.size() != 1) {
    error(node, "'lr_schedule' must be one schedule such as "
                "{step: {step_size: 2, gamma: 0.1}} or {cosine: {t_max: 10}}");
    return;
  }
  auto keys = keysOf(node, {"step", "cosine"}, "lr_schedule");
  if (keys.count("step")) {
    const YAML::Node &step = keys["step"].second;
    if (!step.IsMap()) {
      error(step,
            "'step' must be a mapping such as {step_size: 2, gamma: 0.1}");
      return;
    }
    auto args = keysOf(step, {"step_size", "gamma"}, "step lr_schedule");
    if (!args.count("step_size")) {
      error(step, "step lr_schedule needs 'step_size'");
      return;
    }
    if (auto v = integer(args["step_size"].second, "step_size", 1))
      spec.train.stepLr.stepSize = *v;
    if (args.count("gamma"))
      if (auto v = real(args["gamma"].second, "gamma", 0))
        spec.train.stepLr.gamma = *v;
  }
  if (keys.count("cosine")) {
    const YAML::Node &cosine = keys["cosine"].second;
    if (!cosine.IsMap()) {
      error(cosine,
            "'cosine' must be a mapping such as {t_max: 10, eta_min: 0}");
      return;
    }
    auto args = keysOf(cosine, {"t_max", "eta_min"}, "cosine lr_schedule");
    if (!args.count("t_max")) {
      error(cosine, "cosine lr_schedule needs 't_max' (epochs)");
      return;
    }
    if (auto v = integer(args["t_max"].second, "t_max", 1))
      spec.train.cosineLr.tMax = *v;
    if (args.count("eta_min"))
      if (auto v = real(args["eta_min"].second, "eta_min", 0))
        spec.train.cosineLr.etaMin = *v;
  }
}

std::optional<std::vector<double>>
SpecParser::reals(const YAML::Node &node, const std::string &what, double min) {
  std::vector<double> values;
  if (node.IsScalar()) {
    if (auto v = real(node, what, min))
      return std::vector<double>{*v};
    return std::nullopt;
  }
  if (!node.IsSequence() || node.size() == 0) {
    error(node, "'" + what +
                    "' must be a number or a list of numbers (one "
                    "per channel), got " +
                    describe(node));
    return std::nullopt;
  }
  for (const YAML::Node &item : node) {
    auto v = real(item, what, min);
    if (!v)
      return std::nullopt;
    values.push_back(*v);
  }
  return values;
}

void SpecParser::parseNormalize(const YAML::Node &node) {
  if (!node.IsMap()) {
    error(node,
          "'normalize' must be a mapping such as {mean: [0.5], std: [0.5]}");
    return;
  }
  auto keys = keysOf(node, {"mean", "std"}, "normalize");
  if (!keys.count("mean") || !keys.count("std")) {
    error(node, "normalize needs both 'mean' and 'std'");
    return;
  }
  auto mean = reals(keys["mean"].second, "mean", -1e30);
  auto std = reals(keys["std"].second, "std", 1e-12);
  if (!mean || !std)
    return;
  if (mean->size() != std->size()) {
    error(node, "normalize has " + std::to_string(mean->size()) +
                    " means but " + std::to_string(std->size()) + " stds");
    return;
  }
  spec.train.data.mean = *mean;
  spec.train.data.std = *std;
}

void SpecParser::parseAugment(const YAML::Node &node) {
  if (!node.IsMap()) {
    error(node, "'augment' must be a mapping such as "
                "{random_crop: {padding: 4}, horizontal_flip: true}");
    return;
  }
  auto keys =
      keysOf(node, {"random_crop", "random_resized_crop", "horizontal_flip"},
             "augment");
  if (keys.count("random_crop")) {
    const YAML::Node &crop = keys["random_crop"].second;
    if (!crop.IsMap()) {
      error(crop, "'random_crop' must be a mapping such as {padding: 4}");
    } else {
      auto args = keysOf(crop, {"padding"}, "random_crop");
      spec.train.data.cropPadding = 0;
      spec.train.data.cropPos = posOf(keys["random_crop"].first);
      if (args.count("padding"))
        if (auto v = integer(args["padding"].second, "padding", 0))
          spec.train.data.cropPadding = *v;
    }
  }
  if (keys.count("random_resized_crop"))
    parseRandomResizedCrop(keys["random_resized_crop"].first,
                           keys["random_resized_crop"].second);
  if (keys.count("horizontal_flip"))
    if (auto v = boolean(keys["horizontal_flip"].second, "horizontal_flip"))
      spec.train.data.horizontalFlip = *v;
}

bool SpecParser::parseRange(const YAML::Node &node, const std::string &what,
                            double (&out)[2]) {
  if (!node.IsSequence() || node.size() != 2) {
    error(node,
          "'" + what + "' must be a list [min, max], got " + describe(node));
    return false;
  }
  auto lo = real(node[0], what, 0), hi = real(node[1], what, 0);
  if (!lo || !hi)
    return false;
  if (!(*lo > 0) || *lo > *hi) {
    error(node, "'" + what + "' must be [min, max] with 0 < min <= max, got [" +
                    node[0].Scalar() + ", " + node[1].Scalar() + "]");
    return false;
  }
  out[0] = *lo;
  out[1] = *hi;
  return true;
}

void SpecParser::parseRandomResizedCrop(const YAML::Node &key,
                                        const YAML::Node &node) {
  DataPrepSpec &d = spec.train.data;
  d.resizedCrop = true;
  d.resizedCropPos = posOf(key);
  if (node.IsNull())
    return; // all defaults: the input's size, torchvision's scale and ratio
  if (!node.IsMap()) {
    error(node, "'random_resized_crop' must be a mapping such as "
                "{size: 224, scale: [0.08, 1.0], ratio: [0.75, 1.3333]}");
    return;
  }
  auto args = keysOf(node, {"size", "scale", "ratio"}, "random_resized_crop");
  if (args.count("size")) {
    d.resizedCropSizePos = posOf(args["size"].second);
    if (auto v = pair(args["size"].second, "size", 1))
      d.resizedCropSize = *v;
  }
  if (args.count("scale") &&
      parseRange(args["scale"].second, "scale", d.scale) && d.scale[1] > 1)
    error(args["scale"].second,
          "'scale' is a fraction of the image's area: at most 1, got " +
              args["scale"].second[1].Scalar());
  if (args.count("ratio"))
    parseRange(args["ratio"].second, "ratio", d.ratio);
}

void SpecParser::parseEvalTransform(const YAML::Node &node) {
  DataPrepSpec &d = spec.train.data;
  d.evalTransform = true;
  d.evalTransformPos = posOf(node);
  if (!node.IsMap() || node.size() == 0) {
    error(node, "'eval_transform' must be a mapping such as "
                "{resize: 256, center_crop: 224}");
    return;
  }
  auto keys = keysOf(node, {"resize", "center_crop"}, "eval_transform");
  if (keys.count("resize")) {
    const YAML::Node &r = keys["resize"].second;
    d.resizePos = posOf(r);
    if (r.IsScalar()) {
      if (auto v = integer(r, "resize", 1))
        d.resize = {*v};
    } else if (auto v = pair(r, "resize", 1)) {
      d.resize = {(*v)[0], (*v)[1]};
    }
  }
  if (keys.count("center_crop")) {
    d.centerCropPos = posOf(keys["center_crop"].second);
    if (auto v = pair(keys["center_crop"].second, "center_crop", 1))
      d.centerCrop = *v;
  }
}

void SpecParser::parseFreeze(const YAML::Node &node) {
  auto add = [&](const YAML::Node &item) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      error(item, "'freeze' patterns are parameter names or globs such as "
                  "'conv*', got " +
                      describe(item));
      return;
    }
    spec.train.freeze.push_back({item.Scalar(), posOf(item)});
  };
  if (node.IsSequence()) {
    for (const YAML::Node &item : node)
      add(item);
  } else {
    add(node);
  }
}

void SpecParser::parseTrain(const YAML::Node &node) {
  if (!node.IsMap()) {
    error(node, "'train' must be a mapping of batch_size, epochs, optimizer, "
                "lr_schedule, normalize, augment, eval_transform, val_split, "
                "keep_best, freeze, frozen_batchnorm and init");
    return;
  }
  auto keys = keysOf(node,
                     {"batch_size", "epochs", "optimizer", "lr_schedule",
                      "normalize", "augment", "eval_transform", "val_split",
                      "keep_best", "freeze", "frozen_batchnorm", "init"},
                     "train");
  if (keys.count("batch_size"))
    if (auto v = integer(keys["batch_size"].second, "batch_size", 1))
      spec.train.batchSize = *v;
  if (keys.count("epochs"))
    if (auto v = integer(keys["epochs"].second, "epochs", 1))
      spec.train.epochs = *v;
  if (keys.count("optimizer")) {
    const YAML::Node &opt = keys["optimizer"].second;
    if (opt.IsScalar()) {
      if (opt.Scalar() != "sgd")
        error(opt, "unknown optimizer '" + opt.Scalar() + "' (supported: sgd)");
    } else if (opt.IsMap()) {
      auto optimizers = keysOf(opt, {"sgd"}, "optimizer");
      if (optimizers.count("sgd"))
        parseSgd(optimizers["sgd"].second);
    } else {
      error(opt, "'optimizer' must be a mapping such as {sgd: {lr: 0.01}}");
    }
  }
  if (keys.count("lr_schedule"))
    parseLrSchedule(keys["lr_schedule"].second);
  if (keys.count("normalize"))
    parseNormalize(keys["normalize"].second);
  if (keys.count("augment"))
    parseAugment(keys["augment"].second);
  if (keys.count("eval_transform"))
    parseEvalTransform(keys["eval_transform"].second);
  if (keys.count("val_split"))
    if (auto v = real(keys["val_split"].second, "val_split", 0)) {
      if (*v >= 1)
        error(keys["val_split"].second,
              "'val_split' is the fraction of the training data held out for "
              "validation: below 1, got " +
                  keys["val_split"].second.Scalar());
      else
        spec.train.valSplit = *v;
    }
  if (keys.count("keep_best"))
    if (auto v = boolean(keys["keep_best"].second, "keep_best"))
      spec.train.keepBest = *v;
  if (keys.count("freeze"))
    parseFreeze(keys["freeze"].second);
  if (keys.count("frozen_batchnorm")) {
    const YAML::Node &mode = keys["frozen_batchnorm"].second;
    if (mode.IsScalar() &&
        (mode.Scalar() == "eval" || mode.Scalar() == "batch_stats"))
      spec.train.frozenBatchNorm = mode.Scalar();
    else
      error(mode, "'frozen_batchnorm' must be 'eval' (frozen batch norms use "
                  "and keep their running statistics) or 'batch_stats' (they "
                  "normalise with the batch and update them), got " +
                      describe(mode));
  }
  if (keys.count("init"))
    parseInit(keys["init"].second);
}

void SpecParser::parseInit(const YAML::Node &node) {
  if (!node.IsMap()) {
    error(node, "'init' must be a mapping such as "
                "{weights: backbone.safetensors, skip: [fc.weight, fc.bias]}");
    return;
  }
  auto keys = keysOf(node, {"weights", "skip"}, "init");
  if (!keys.count("weights")) {
    error(node, "init needs 'weights', the file to start from");
  } else if (const YAML::Node &w = keys["weights"].second;
             !w.IsScalar() || w.Scalar().empty()) {
    error(w, "'weights' is the path of a safetensors file, got " + describe(w));
  } else {
    spec.train.initWeights = w.Scalar();
  }
  if (!keys.count("skip"))
    return;
  const YAML::Node &skip = keys["skip"].second;
  auto add = [&](const YAML::Node &item) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      error(item,
            "'skip' patterns are tensor names or globs such as 'fc.*', got " +
                describe(item));
      return;
    }
    spec.train.initSkip.push_back(item.Scalar());
  };
  if (skip.IsSequence()) {
    for (const YAML::Node &item : skip)
      add(item);
  } else {
    add(skip);
  }
}

bool SpecParser::parse(const std::string &text,
                       const std::string &defaultName) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception &e) {
    SourcePos pos;
    if (!e.mark.is_null())
      pos = {static_cast<unsigned>(e.mark.line + 1),
             static_cast<unsigned>(e.mark.column + 1)};
    error(pos, "invalid YAML: " + e.msg);
    return false;
  }
  if (root.IsNull()) {
    error(SourcePos{}, "the file is empty; expected a network such as "
                       "'input: [3, 32, 32]' and 'layers: [...]'");
    return false;
  }
  if (!root.IsMap()) {
    error(root, "expected a mapping with 'input' and 'layers', got " +
                    describe(root));
    return false;
  }
  auto keys =
      keysOf(root, {"name", "input", "blocks", "layers", "loss", "train"},
             "the network");
  spec.name = defaultName;
  if (keys.count("name")) {
    const YAML::Node &n = keys["name"].second;
    if (!n.IsScalar() || !isValidLayerName(n.Scalar()))
      error(n, "'name' must be letters, digits and '_', got " + describe(n));
    else
      spec.name = n.Scalar();
  }
  if (keys.count("input"))
    parseInput(keys["input"].second);
  else
    error(root, "missing 'input', the shape of one sample, e.g. [3, 32, 32]");
  if (keys.count("loss")) {
    const YAML::Node &loss = keys["loss"].second;
    if (!loss.IsScalar() || loss.Scalar() != "cross_entropy")
      error(loss,
            "unknown loss " + describe(loss) + " (supported: cross_entropy)");
  }
  if (keys.count("train"))
    parseTrain(keys["train"].second);

  if (keys.count("blocks"))
    parseBlocks(keys["blocks"].second);
  if (!keys.count("layers")) {
    error(root, "missing 'layers', the list of layers");
    return false;
  }
  inLayers = true;
  std::vector<Item> items = parseLayerList(keys["layers"].second, 0);
  inLayers = false;
  // Nodes that could not be read are placeholders: names and inputs are
  // still checked, but unused results would be guesses.
  bool resolved = resolveGraph(items, spec, /*allNodesRead=*/!failed, diagnose);
  return resolved && !failed;
}

} // namespace

bool parseNetworkSpec(const std::string &text, const std::string &defaultName,
                      NetworkSpec &spec, const SpecDiagnosticFn &diagnose) {
  try {
    return SpecParser(spec, diagnose).parse(text, defaultName);
  } catch (const YAML::Exception &e) {
    // Malformed nodes can still throw while being read.
    diagnose(SourcePos{static_cast<unsigned>(e.mark.line + 1),
                       static_cast<unsigned>(e.mark.column + 1)},
             "invalid YAML: " + e.msg);
    return false;
  }
}

} // namespace cnnc
