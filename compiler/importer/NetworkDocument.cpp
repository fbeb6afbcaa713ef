// `extends:`: a network file built on another. The base file's document is
// read (recursively), then the extending file's keys are laid over it:
// `blocks:` and `train:` entry by entry, every other key as a whole, and
// `replace:` swaps named layers of the resulting `layers:` list. Nodes keep
// their positions, so problems found later point into the file they were
// written in.
#include "NetworkDocument.h"

#include "cnnc/importer/Suggest.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "llvm/ADT/StringRef.h"

namespace cnnc {

std::pair<std::string, SourcePos>
locateSource(const std::vector<SourceFile> &sources, SourcePos pos,
             const std::string &fallback) {
  for (const SourceFile &file : sources)
    if (pos.line >= file.firstLine &&
        pos.line < file.firstLine + std::max(file.lineCount, 1u))
      return {file.path, {pos.line - file.firstLine + 1, pos.column}};
  return {sources.empty() ? fallback : sources.front().path, pos};
}

namespace {

/// `path` with "." and "dir/.." components removed ("a/./b/../c.yaml" ->
/// "a/c.yaml"), so that a file reached twice is recognised.
std::string normalized(const std::string &path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".")
      continue;
    if (part == ".." && !parts.empty() && parts.back() != "..")
      parts.pop_back();
    else
      parts.push_back(part);
  }
  std::string result = path.size() && path[0] == '/' ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i)
    result += (i ? "/" : "") + parts[i];
  return result;
}

/// A mapping's entries in order, keys with their positions.
using Entries = std::vector<std::pair<YAML::Node, YAML::Node>>;

Entries entriesOf(const YAML::Node &map) {
  Entries entries;
  for (auto it = map.begin(); it != map.end(); ++it)
    entries.push_back({it->first, it->second});
  return entries;
}

YAML::Node mappingOf(const Entries &entries) {
  YAML::Node map(YAML::NodeType::Map);
  for (const auto &[key, value] : entries)
    map.force_insert(key, value);
  return map;
}

/// The entry of `entries` with key `name`, or nullptr.
std::pair<YAML::Node, YAML::Node> *find(Entries &entries,
                                        const std::string &name) {
  for (auto &entry : entries)
    if (entry.first.IsScalar() && entry.first.Scalar() == name)
      return &entry;
  return nullptr;
}

/// `over`'s entries laid over `base`'s: same keys replaced in place, new
/// ones appended.
Entries overlay(Entries base, const Entries &over) {
  for (const auto &entry : over) {
    if (!entry.first.IsScalar()) {
      base.push_back(entry);
    } else if (auto *same = find(base, entry.first.Scalar())) {
      *same = entry;
    } else {
      base.push_back(entry);
    }
  }
  return base;
}

/// The `name:` of a layer list item (`- linear: {name: fc, ...}`), or "".
std::string layerName(const YAML::Node &item) {
  if (!item.IsMap() || item.size() != 1)
    return "";
  const YAML::Node args = item.begin()->second;
  if (!args.IsMap())
    return "";
  const YAML::Node name = args["name"];
  return name && name.IsScalar() ? name.Scalar() : "";
}

/// `layer` (a layer list item) named `name` unless it names itself, as
/// `model.fc = nn.Linear(512, 2)` keeps the attribute's name.
YAML::Node named(const YAML::Node &layer, const std::string &name) {
  if (!layer.IsMap() || layer.size() != 1)
    return layer;
  const YAML::Node kind = layer.begin()->first;
  const YAML::Node args = layer.begin()->second;
  if (args.IsMap() && args["name"])
    return layer;
  if (!args.IsNull() && !args.IsMap())
    return layer; // not a layer's arguments: the parser says so
  Entries entries;
  YAML::Node key("name");
  entries.push_back({key, YAML::Node(name)});
  if (args.IsMap())
    for (const auto &entry : entriesOf(args))
      entries.push_back(entry);
  YAML::Node result(YAML::NodeType::Map);
  result.force_insert(kind, mappingOf(entries));
  return result;
}

class DocumentLoader {
public:
  DocumentLoader(const NetworkFileReader &readFile,
                 std::vector<SourceFile> &sources, YamlReader &reader)
      : readFile(readFile), sources(sources), reader(reader) {}

  std::optional<YAML::Node> load(const std::string &text,
                                 const std::string &path,
                                 std::vector<std::string> chain);

private:
  const NetworkFileReader &readFile;
  std::vector<SourceFile> &sources;
  YamlReader &reader;

  std::optional<YAML::Node> parse(const std::string &text,
                                  const std::string &path);
  std::optional<YAML::Node> loadBase(const YAML::Node &value,
                                     const std::string &path,
                                     const std::vector<std::string> &chain);
  YAML::Node merge(const YAML::Node &base, const Entries &derived,
                   const YAML::Node *replace);
  void replaceLayers(Entries &merged, const YAML::Node &replace);
};

std::optional<YAML::Node> DocumentLoader::parse(const std::string &text,
                                                const std::string &path) {
  unsigned firstLine = 1;
  for (const SourceFile &file : sources)
    firstLine = std::max(firstLine, file.firstLine + file.lineCount);
  unsigned lineCount =
      static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
  sources.push_back({path, firstLine, lineCount});
  try {
    // Blank lines in front number this file's lines after the others'.
    return YAML::Load(std::string(firstLine - 1, '\n') + text);
  } catch (const YAML::Exception &e) {
    SourcePos pos{firstLine, 1};
    if (!e.mark.is_null())
      pos = {static_cast<unsigned>(e.mark.line + 1),
             static_cast<unsigned>(e.mark.column + 1)};
    reader.error(pos, "invalid YAML: " + e.msg);
    return std::nullopt;
  }
}

std::optional<YAML::Node> DocumentLoader::load(const std::string &text,
                                               const std::string &path,
                                               std::vector<std::string> chain) {
  std::optional<YAML::Node> root = parse(text, path);
  if (!root || !root->IsMap())
    return root;
  Entries entries = entriesOf(*root);
  auto *extends = find(entries, "extends");
  auto *replace = find(entries, "replace");
  if (!extends) {
    if (!replace)
      return root;
    reader.error(replace->first, "'replace' changes layers of the network "
                                 "this one extends; add 'extends: FILE'");
    Entries rest;
    for (const auto &entry : entries)
      if (&entry != replace)
        rest.push_back(entry);
    return mappingOf(rest);
  }
  chain.push_back(path);
  std::optional<YAML::Node> base = loadBase(extends->second, path, chain);
  if (!base)
    return std::nullopt;
  if (!base->IsMap()) {
    // Its content is not quoted: it need not be the user's to show.
    reader.error(extends->second, "the extended file is not a network (a "
                                  "mapping with 'input' and 'layers')");
    return std::nullopt;
  }
  Entries derived;
  for (const auto &entry : entries)
    if (!(entry.first.IsScalar() && (entry.first.Scalar() == "extends" ||
                                     entry.first.Scalar() == "replace")))
      derived.push_back(entry);
  return merge(*base, derived, replace ? &replace->second : nullptr);
}

std::optional<YAML::Node>
DocumentLoader::loadBase(const YAML::Node &value, const std::string &path,
                         const std::vector<std::string> &chain) {
  if (!value.IsScalar() || value.Scalar().empty()) {
    reader.error(value, "'extends' must be the path of a network file, got " +
                            YamlReader::describe(value));
    return std::nullopt;
  }
  const std::string &written = value.Scalar();
  // A network file, relative to this one: never a device, a secret or a
  // file of another kind that an error would quote.
  if (written.front() == '/') {
    reader.error(value, "'extends' takes a path relative to this file's "
                        "folder, not an absolute one");
    return std::nullopt;
  }
  if (!llvm::StringRef(written).endswith(".yaml") &&
      !llvm::StringRef(written).endswith(".yml")) {
    reader.error(value,
                 "'extends' names a network file (.yaml or .yml), got '" +
                     written + "'");
    return std::nullopt;
  }
  std::string target =
      normalized(path.substr(0, path.rfind('/') + 1) + written);
  if (!readFile) {
    reader.error(value, "'extends' is only read from a network file on disk");
    return std::nullopt;
  }
  if (std::find(chain.begin(), chain.end(), target) != chain.end()) {
    std::string cycle;
    for (const std::string &file : chain)
      cycle += file + " -> ";
    reader.error(value,
                 "the files extend each other in a circle: " + cycle + target);
    return std::nullopt;
  }
  if (chain.size() >= static_cast<size_t>(kMaxExtendsDepth)) {
    reader.error(value, "more than " + std::to_string(kMaxExtendsDepth) +
                            " files extend one another");
    return std::nullopt;
  }
  std::string why;
  std::optional<std::string> text = readFile(target, why);
  if (!text) {
    reader.error(value, "cannot extend '" + target + "': " + why);
    return std::nullopt;
  }
  // Every file's lines are numbered after the others': bound the total.
  size_t total = text->size();
  for (const SourceFile &file : sources)
    total += file.lineCount;
  if (total > kMaxDocumentBytes) {
    reader.error(value, "the files extending one another are too large "
                        "together (at most " +
                            std::to_string(kMaxDocumentBytes >> 20) + " MiB)");
    return std::nullopt;
  }
  return load(*text, target, chain);
}

YAML::Node DocumentLoader::merge(const YAML::Node &base, const Entries &derived,
                                 const YAML::Node *replace) {
  Entries merged;
  // The extending file names a new network: its own name or its file's.
  for (const auto &entry : entriesOf(base))
    if (!(entry.first.IsScalar() && entry.first.Scalar() == "name"))
      merged.push_back(entry);
  for (const auto &entry : derived) {
    auto *same =
        entry.first.IsScalar() ? find(merged, entry.first.Scalar()) : nullptr;
    const bool byEntry =
        same &&
        (entry.first.Scalar() == "blocks" || entry.first.Scalar() == "train") &&
        same->second.IsMap() && entry.second.IsMap();
    if (byEntry)
      *same = {entry.first, mappingOf(overlay(entriesOf(same->second),
                                              entriesOf(entry.second)))};
    else if (same)
      *same = entry;
    else
      merged.push_back(entry);
  }
  if (replace)
    replaceLayers(merged, *replace);
  return mappingOf(merged);
}

void DocumentLoader::replaceLayers(Entries &merged, const YAML::Node &replace) {
  if (!replace.IsMap()) {
    reader.error(replace, "'replace' must map layer names to layers, e.g. "
                          "{fc: {linear: {out_features: 2}}}, got " +
                              YamlReader::describe(replace));
    return;
  }
  auto *layers = find(merged, "layers");
  if (!layers || !layers->second.IsSequence())
    return; // SpecParser reports the missing or malformed list
  std::vector<std::string> names;
  for (const YAML::Node &item : layers->second)
    if (std::string name = layerName(item); !name.empty())
      names.push_back(name);
  YAML::Node replaced(YAML::NodeType::Sequence);
  // A default YAML::Node is a defined null: optional marks "not replaced".
  std::vector<std::optional<YAML::Node>> replacements(layers->second.size());
  for (auto it = replace.begin(); it != replace.end(); ++it) {
    const YAML::Node key = it->first; // a copy: `it->first` is a temporary's
    const std::string name = key.IsScalar() ? key.Scalar() : "";
    auto at = std::find(names.begin(), names.end(), name);
    if (at == names.end()) {
      std::string message = "'replace' names " + YamlReader::describe(key) +
                            ", which is not a layer of the list";
      if (auto near = nearestMatch(name, names))
        message += "; did you mean '" + *near + "'?";
      else
        message += " (its named layers: " + joinNames(names) + ")";
      reader.error(key, message);
      continue;
    }
    size_t index = 0;
    for (const YAML::Node &item : layers->second) {
      if (layerName(item) == name)
        replacements[index] = named(it->second, name);
      ++index;
    }
  }
  size_t index = 0;
  for (const YAML::Node &item : layers->second) {
    replaced.push_back(replacements[index] ? *replacements[index] : item);
    ++index;
  }
  layers->second = replaced;
}

} // namespace

std::optional<YAML::Node> loadNetworkDocument(const std::string &text,
                                              const std::string &path,
                                              const NetworkFileReader &readFile,
                                              std::vector<SourceFile> &sources,
                                              YamlReader &reader) {
  return DocumentLoader(readFile, sources, reader).load(text, path, {});
}

} // namespace cnnc
