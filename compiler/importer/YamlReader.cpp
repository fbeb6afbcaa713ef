#include "YamlReader.h"

#include "cnnc/importer/Suggest.h"

#include <charconv>
#include <cstdio>

namespace cnnc {

SourcePos YamlReader::posOf(const YAML::Node &node) {
  YAML::Mark m = node.Mark();
  if (m.is_null())
    return {};
  return {static_cast<unsigned>(m.line + 1),
          static_cast<unsigned>(m.column + 1)};
}

std::string YamlReader::describe(const YAML::Node &node) {
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

void YamlReader::error(SourcePos pos, const std::string &message) {
  hadError = true;
  if (silenced.count({pos.line, pos.column}) ||
      !reported.insert({pos.line, pos.column, message}).second)
    return;
  diagnose(pos, message);
}

void YamlReader::error(const YAML::Node &node, const std::string &message) {
  error(posOf(node), message);
}

KeyMap YamlReader::keysOf(const YAML::Node &map,
                          const std::vector<std::string> &allowed,
                          const std::string &context) {
  KeyMap keys;
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
    keys[name] = {key, resolve(value)};
  }
  return keys;
}

std::optional<int64_t> YamlReader::integer(const YAML::Node &node,
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

std::optional<cnn::shape::Pair>
YamlReader::pair(const YAML::Node &node, const std::string &what, int64_t min) {
  if (node.IsScalar()) {
    auto v = integer(node, what, min);
    if (!v)
      return std::nullopt;
    return cnn::shape::Pair{*v, *v};
  }
  if (!node.IsSequence() || node.size() != 2) {
    error(node,
          "'" + what + "' must be an integer or a list [h, w], got " +
              (node.IsSequence()
                   ? "a list of " + std::to_string(node.size()) + " values"
                   : describe(node)));
    return std::nullopt;
  }
  auto h = integer(resolve(node[0]), what, min),
       w = integer(resolve(node[1]), what, min);
  if (!h || !w)
    return std::nullopt;
  return cnn::shape::Pair{*h, *w};
}

std::optional<bool> YamlReader::boolean(const YAML::Node &node,
                                        const std::string &what) {
  bool value = false;
  if (node.IsScalar() && YAML::convert<bool>::decode(node, value))
    return value;
  error(node, "'" + what + "' must be true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<double> YamlReader::real(const YAML::Node &node,
                                       const std::string &what, double min) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) ||
      !(value == value)) {
    error(node, "'" + what + "' must be a number, got " + describe(node));
    return std::nullopt;
  }
  if (value < min) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%g", min);
    error(node, "'" + what + "' must be at least " + bound + ", got " +
                    node.Scalar());
    return std::nullopt;
  }
  return value;
}

} // namespace cnnc
