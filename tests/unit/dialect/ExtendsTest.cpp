// `extends:` and `replace:`: how a network file is laid over the one it
// extends, and where problems in either file are reported.
#include "cnnc/importer/NetworkSpec.h"

#include <gtest/gtest.h>

#include <map>

using namespace cnnc;

namespace {

struct Parsed {
  bool ok = false;
  NetworkSpec spec;
  /// file:line:column: message
  std::vector<std::string> errors;
  std::vector<std::string> read;
};

/// Parses `files.at(path)`, reading the files it extends from `files`.
Parsed parseFiles(const std::map<std::string, std::string> &files,
                  const std::string &path) {
  Parsed p;
  NetworkFileReader reader =
      [&](const std::string &file,
          std::string &error) -> std::optional<std::string> {
    p.read.push_back(file);
    auto it = files.find(file);
    if (it == files.end()) {
      error = "no such file";
      return std::nullopt;
    }
    return it->second;
  };
  std::vector<std::pair<SourcePos, std::string>> raw;
  p.ok = parseNetworkSpec(
      files.at(path), "stem", p.spec,
      [&](SourcePos pos, const std::string &message) {
        raw.push_back({pos, message});
      },
      path, reader);
  for (const auto &[pos, message] : raw) {
    auto [file, at] = locateSource(p.spec.sources, pos, path);
    p.errors.push_back(file + ":" + std::to_string(at.line) + ":" +
                       std::to_string(at.column) + ": " + message);
  }
  return p;
}

const char kBase[] = "name: base\n"
                     "input: [3, 8, 8]\n"
                     "blocks:\n"
                     "  unit:\n"
                     "    args: [c]\n"
                     "    layers: [conv2d: {name: conv, out_channels: $c, "
                     "kernel_size: 3, padding: 1}, relu]\n"
                     "layers:\n"
                     "  - unit: {name: stem, c: 4}\n"
                     "  - flatten\n"
                     "  - linear: {name: fc, out_features: 10}\n"
                     "train:\n"
                     "  batch_size: 8\n"
                     "  epochs: 3\n";

std::vector<std::string> names(const NetworkSpec &spec) {
  std::vector<std::string> result;
  for (const LayerSpec &layer : spec.layers)
    result.push_back(layer.name);
  return result;
}

TEST(Extends, KeysAreLaidOverTheExtendedFile) {
  Parsed p = parseFiles(
      {{"nets/base.yaml", kBase},
       {"nets/head.yaml", "extends: base.yaml\n"
                          "replace:\n"
                          "  fc: {linear: {out_features: 2}}\n"
                          "train: {epochs: 7, freeze: ['stem.*']}\n"}},
      "nets/head.yaml");
  ASSERT_TRUE(p.ok) << p.errors.front();
  // Relative to the extending file's folder.
  EXPECT_EQ(p.read, std::vector<std::string>{"nets/base.yaml"});
  // The extending file names a new network (its stem without `name:`).
  EXPECT_EQ(p.spec.name, "stem");
  EXPECT_EQ(p.spec.input, (std::vector<int64_t>{3, 8, 8}));
  EXPECT_EQ(names(p.spec), (std::vector<std::string>{"stem.conv", "stem.relu1",
                                                     "flatten1", "fc"}));
  // The replacement keeps the replaced layer's name.
  EXPECT_EQ(p.spec.layers.back().args.integer("out_features"), 2);
  // train: entry by entry.
  EXPECT_EQ(p.spec.train.batchSize, 8);
  EXPECT_EQ(p.spec.train.epochs, 7);
  EXPECT_EQ(p.spec.train.freeze, std::vector<std::string>{"stem.*"});
  ASSERT_EQ(p.spec.sources.size(), 2u);
  EXPECT_EQ(p.spec.sources[0].path, "nets/head.yaml");
  EXPECT_EQ(p.spec.sources[1].path, "nets/base.yaml");
  // A layer's position is in the file that wrote it.
  auto [file, at] = locateSource(p.spec.sources, p.spec.layers[2].pos, "");
  EXPECT_EQ(file, "nets/base.yaml");
  EXPECT_EQ(at.line, 9u);
  auto [fcFile, fcAt] = locateSource(p.spec.sources, p.spec.layers[3].pos, "");
  EXPECT_EQ(fcFile, "nets/head.yaml");
  EXPECT_EQ(fcAt.line, 3u);
}

TEST(Extends, ChainsBlocksAndWholeKeys) {
  Parsed p = parseFiles(
      {{"base.yaml", kBase},
       {"middle.yaml", "extends: base.yaml\n"
                       "name: middle\n"
                       "blocks:\n"
                       "  wide:\n"
                       "    args: [c]\n"
                       "    layers: [conv2d: {name: conv, out_channels: $c, "
                       "kernel_size: 1}]\n"},
       {"top.yaml", "extends: middle.yaml\n"
                    "input: [3, 4, 4]\n"
                    "layers: [unit: {name: a, c: 2}, wide: {name: b, c: 3}, "
                    "flatten, linear: {name: fc, out_features: 5}]\n"}},
      "top.yaml");
  ASSERT_TRUE(p.ok) << p.errors.front();
  EXPECT_EQ(p.read, (std::vector<std::string>{"middle.yaml", "base.yaml"}));
  EXPECT_EQ(p.spec.input, (std::vector<int64_t>{3, 4, 4}));
  // Both files' blocks; `layers` replaced as a whole.
  EXPECT_EQ(names(p.spec),
            (std::vector<std::string>{"a.conv", "a.relu1", "b.conv", "flatten1",
                                      "fc"}));
  EXPECT_EQ(p.spec.train.epochs, 3);
}

TEST(Extends, ProblemsPointIntoTheFileThatHasThem) {
  Parsed p = parseFiles(
      {{"base.yaml", "input: [3, 8, 8]\n"
                     "layers:\n"
                     "  - conv2d: {name: c1, out_channels: 4, kernel_size: 3, "
                     "paddin: 1}\n"
                     "  - flatten\n"
                     "  - linear: {name: fc, out_features: 10}\n"},
       {"top.yaml", "extends: base.yaml\n"
                    "train: {epochs: 0}\n"
                    "replace: {fcc: {linear: {out_features: 2}}}\n"}},
      "top.yaml");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 3u);
  bool paddin = false, epochs = false, replace = false;
  for (const std::string &e : p.errors) {
    paddin |= e.rfind("base.yaml:3:57: unknown key 'paddin'", 0) == 0;
    epochs |= e.rfind("top.yaml:2:17: 'epochs' must be at least 1", 0) == 0;
    replace |= e == "top.yaml:3:11: 'replace' names 'fcc', which is not a "
                    "layer of the list; did you mean 'fc'?";
  }
  EXPECT_TRUE(paddin && epochs && replace) << p.errors[0] << "\n"
                                           << p.errors[1] << "\n"
                                           << p.errors[2];
}

TEST(Extends, BadExtendsAreReported) {
  struct Case {
    std::map<std::string, std::string> files;
    std::string error;
  };
  for (const Case &c : std::vector<Case>{
           {{{"a.yaml", "extends: a.yaml\n"}},
            "a.yaml:1:10: the files extend each other in a circle: a.yaml -> "
            "a.yaml"},
           {{{"a.yaml", "extends: gone.yaml\n"}},
            "a.yaml:1:10: cannot extend 'gone.yaml': no such file"},
           {{{"a.yaml", "extends: [x]\n"}},
            "a.yaml:1:10: 'extends' must be the path of a network file, got a "
            "list"},
           {{{"a.yaml", "extends: b.yaml\n"}, {"b.yaml", "secret\n"}},
            "a.yaml:1:10: the extended file is not a network (a mapping with "
            "'input' and 'layers')"},
           {{{"a.yaml", "extends: /etc/b.yaml\n"}},
            "a.yaml:1:10: 'extends' takes a path relative to this file's "
            "folder, not an absolute one"},
           {{{"a.yaml", "extends: passwd\n"}},
            "a.yaml:1:10: 'extends' names a network file (.yaml or .yml), got "
            "'passwd'"},
           // The same file by another path is still a circle.
           {{{"d/a.yaml", "extends: ../d/./a.yaml\n"}},
            "d/a.yaml:1:10: the files extend each other in a circle: d/a.yaml "
            "-> d/a.yaml"},
           {{{"a.yaml", "extends: b.yaml\n"}, {"b.yaml", "input: [1\n"}},
            "b.yaml:2:1: invalid YAML: "},
           {{{"a.yaml", "input: [1]\nlayers: [relu]\nreplace: {x: relu}\n"}},
            "a.yaml:3:1: 'replace' changes layers of the network this one "
            "extends; add 'extends: FILE'"},
           {{{"a.yaml", "extends: b.yaml\nreplace: [fc]\n"},
             {"b.yaml", "input: [1]\nlayers: [linear: {name: fc, "
                        "out_features: 2}]\n"}},
            "a.yaml:2:10: 'replace' must map layer names to layers"}}) {
    const std::string top = c.files.count("a.yaml") ? "a.yaml" : "d/a.yaml";
    Parsed p = parseFiles(c.files, top);
    EXPECT_FALSE(p.ok) << c.error;
    ASSERT_FALSE(p.errors.empty()) << c.error;
    EXPECT_EQ(p.errors.front().substr(0, c.error.size()), c.error);
  }
  // Without a reader (text, not a file), extends is refused.
  NetworkSpec spec;
  std::vector<std::string> messages;
  EXPECT_FALSE(parseNetworkSpec(
      "extends: b.yaml\n", "x", spec,
      [&](SourcePos, const std::string &m) { messages.push_back(m); }));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "'extends' is only read from a network file on disk");
}

} // namespace
