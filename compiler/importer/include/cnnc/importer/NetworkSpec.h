// A network description as parsed from YAML, before any shape is known.
//
// The YAML front end fills these plain structs (with source positions) and
// reports syntax and argument errors; building the cnn dialect from them is a
// separate step, which checks shapes.
#ifndef CNNC_IMPORTER_NETWORKSPEC_H
#define CNNC_IMPORTER_NETWORKSPEC_H

#include "cnn/ShapeRules.h"
#include "cnnc/recipe/TrainingRecipe.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cnnc {

/// A 1-based position in the YAML file.
struct SourcePos {
  unsigned line = 1;
  unsigned column = 1;
};

struct LayerDef;

/// A layer argument as written (or defaulted): one of the types of its
/// ArgSpec in the layer table (LayerTable.h).
struct ArgValue {
  int64_t integer = 0;
  cnn::shape::Pair pair{0, 0};
  bool flag = false;
  double real = 0;
  std::string choice;
  /// Where the value is written (its key's value node); unset for defaults.
  std::optional<SourcePos> pos;
};

/// The arguments of one layer by name, after defaults: every argument of
/// its LayerDef that is required or has a default, and the optional ones
/// the file gives. Reading an argument the layer does not have is a bug in
/// the layer table and throws std::out_of_range.
class LayerArgs {
public:
  int64_t integer(const std::string &name) const { return at(name).integer; }
  cnn::shape::Pair pair(const std::string &name) const { return at(name).pair; }
  bool flag(const std::string &name) const { return at(name).flag; }
  double real(const std::string &name) const { return at(name).real; }
  const std::string &choice(const std::string &name) const {
    return at(name).choice;
  }
  /// The argument if it has a value (written, or defaulted): optional
  /// arguments such as in_channels have one only where the file gives it.
  const ArgValue *given(const std::string &name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  void set(const std::string &name, ArgValue value) {
    values[name] = std::move(value);
  }

private:
  const ArgValue &at(const std::string &name) const { return values.at(name); }
  std::map<std::string, ArgValue> values;
};

/// `LayerSpec::inputs` entry for the network's input.
constexpr int kNetworkInput = -1;

/// One layer after `repeat` expansion and block instantiation.
struct LayerSpec {
  /// What the layer is (its YAML name, arguments and how it is built):
  /// an entry of the layer table.
  const LayerDef *def = nullptr;
  std::string name; // unique in the network: "conv1", "layer1.0.conv1"
  SourcePos pos;
  /// What the layer reads: indices of earlier layers in NetworkSpec::layers,
  /// or kNetworkInput. One input; two for add.
  std::vector<int> inputs;
  LayerArgs args;
};

/// Where each value of the `train:` section is written, by its path in the
/// recipe schema ("augment.random_crop.padding", "freeze[1]"): the schema
/// reports problems by path, the importer at these positions.
class RecipePositions {
public:
  void add(const std::string &path, SourcePos key, SourcePos value) {
    entries[path] = {key, value};
  }
  /// The position of `path`'s key (`atKey`) or value. A path that is not
  /// written (a key that is missing, or the single element of a list
  /// written as a scalar) is reported at the value of the nearest enclosing
  /// one.
  SourcePos at(std::string path, bool atKey = false) const;

private:
  std::map<std::string, std::pair<SourcePos, SourcePos>> entries;
};

/// A file a network was read from: the file given, then each one it
/// extends (`extends:`). Their positions share one line space: a file's
/// lines are numbered from `firstLine` on (1 for the file given), so a
/// SourcePos names its file too (locateSource).
struct SourceFile {
  std::string path;
  unsigned firstLine = 1;
  unsigned lineCount = 0;
};

/// The file holding `pos` and the position within it; the first file (or
/// `fallback` when there is none) for a position that no file holds.
std::pair<std::string, SourcePos>
locateSource(const std::vector<SourceFile> &sources, SourcePos pos,
             const std::string &fallback);

struct NetworkSpec {
  /// The files read, the one given first.
  std::vector<SourceFile> sources;
  std::string name;
  std::vector<int64_t> input; // [C, H, W] or [F], without the batch
  SourcePos inputPos;
  /// Every layer once, in an order where each comes after its inputs (the
  /// written order when the file refers only to earlier nodes). The last
  /// one is the network's output.
  std::vector<LayerSpec> layers;
  std::string loss = "cross_entropy";
  /// The `train:` section: defaults for `cnnc train`, overridable by flags,
  /// and the compile-time freeze settings.
  recipe::TrainingRecipe train;
  RecipePositions trainPositions;
};

/// Receives each problem found, with its position; parsing goes on after it.
using SpecDiagnosticFn =
    std::function<void(SourcePos pos, const std::string &message)>;

/// Reads a network file that another extends: its text, or nullopt with
/// `error` saying why not.
using NetworkFileReader = std::function<std::optional<std::string>(
    const std::string &path, std::string &error)>;

/// Parses a network description. Reports every problem it finds through
/// `diagnose` and returns false if there was any. `defaultName` names a
/// network without a `name:` key (the file's stem). `path` is the file the
/// text came from, and `readFile` reads the files it extends (paths
/// relative to the extending file's folder); without it, `extends:` is an
/// error.
bool parseNetworkSpec(const std::string &text, const std::string &defaultName,
                      NetworkSpec &spec, const SpecDiagnosticFn &diagnose,
                      const std::string &path = "",
                      const NetworkFileReader &readFile = nullptr);

/// Limits that keep a malformed file from exhausting memory.
constexpr int64_t kMaxRepeat = 1000;
constexpr int64_t kMaxLayers = 10000;
constexpr int64_t kMaxDimension = 1 << 20;

} // namespace cnnc

#endif // CNNC_IMPORTER_NETWORKSPEC_H
