#include "RecipeParser.h"

#include "cnnc/recipe/RecipeJson.h"

#include <algorithm>
#include <charconv>

namespace cnnc {

SourcePos RecipePositions::at(std::string path, bool atKey) const {
  for (;;) {
    auto it = entries.find(path);
    if (it != entries.end())
      return atKey ? it->second.first : it->second.second;
    if (path.empty())
      return SourcePos{};
    path = recipe::parentPath(path);
    atKey = false;
  }
}

namespace {
nlohmann::json scalar(const YAML::Node &node) {
  const std::string &text = node.Scalar();
  // yaml-cpp tags quoted scalars "!": text, whatever they hold.
  if (node.Tag() == "!")
    return text;
  int64_t integer = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), integer);
  if (ec == std::errc() && end == text.data() + text.size())
    return integer;
  double real = 0;
  if (YAML::convert<double>::decode(node, real))
    return real;
  bool flag = false;
  if (YAML::convert<bool>::decode(node, flag))
    return flag;
  return text;
}
} // namespace

nlohmann::json RecipeParser::toJson(const YAML::Node &node,
                                    const std::string &path) {
  switch (node.Type()) {
  case YAML::NodeType::Map: {
    const std::string context = path.empty() ? "train" : path;
    nlohmann::json object = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: yaml-cpp's operator-> returns a temporary proxy.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        found.push_back(
            {YamlReader::posOf(key), "expected a key name in " + context +
                                         ", got " + YamlReader::describe(key)});
        continue;
      }
      const std::string &name = key.Scalar();
      if (object.contains(name)) {
        found.push_back({YamlReader::posOf(key),
                         "duplicate key '" + name + "' in " + context});
        continue;
      }
      const std::string child = recipe::keyPath(path, name);
      // A key without a value: yaml-cpp places the null at the next token,
      // which may be on another line; the key's position says more.
      spec.trainPositions.add(
          child, YamlReader::posOf(key),
          YamlReader::posOf(value.IsNull() || value.Mark().is_null() ? key
                                                                     : value));
      object[name] = toJson(value, child);
    }
    return object;
  }
  case YAML::NodeType::Sequence: {
    nlohmann::json array = nlohmann::json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string child = recipe::elementPath(path, i);
      spec.trainPositions.add(child, YamlReader::posOf(node[i]),
                              YamlReader::posOf(node[i]));
      array.push_back(toJson(node[i], child));
    }
    return array;
  }
  case YAML::NodeType::Scalar:
    return scalar(node);
  default:
    return nullptr;
  }
}

void RecipeParser::parseTrain(const YAML::Node &node) {
  spec.trainPositions.add("", YamlReader::posOf(node), YamlReader::posOf(node));
  nlohmann::json value = toJson(node, "");
  std::vector<recipe::Problem> problems;
  spec.train = recipe::parseRecipe(value, problems);
  for (const recipe::Problem &p : problems)
    found.push_back({spec.trainPositions.at(p.path, p.atKey), p.text()});
  std::stable_sort(found.begin(), found.end(),
                   [](const auto &a, const auto &b) {
                     return std::make_pair(a.first.line, a.first.column) <
                            std::make_pair(b.first.line, b.first.column);
                   });
  for (const auto &[pos, message] : found)
    reader.error(pos, message);
  found.clear();
}

} // namespace cnnc
