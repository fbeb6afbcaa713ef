// A network description as parsed from YAML, before any shape is known.
//
// The YAML front end fills these plain structs (with source positions) and
// reports syntax and argument errors; building the cnn dialect from them is a
// separate step, which checks shapes.
#ifndef CNNC_IMPORTER_NETWORKSPEC_H
#define CNNC_IMPORTER_NETWORKSPEC_H

#include "cnn/ShapeRules.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
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

struct SgdSpec {
  double lr = 0.01;
  double momentum = 0;
  double weightDecay = 0;
  bool nesterov = false;
};

struct StepLrSpec {
  int64_t stepSize = 0; // 0: no schedule
  double gamma = 0.1;
};

struct CosineLrSpec {
  int64_t tMax = 0; // 0: no schedule
  double etaMin = 0;
};

/// Data preparation of the training recipe (torchvision's transforms).
struct DataPrepSpec {
  std::vector<double> mean, std; // Normalize; empty: none
  int64_t cropPadding = -1;      // RandomCrop(input size, padding); -1: none
  SourcePos cropPos;             // where random_crop is written
  bool horizontalFlip = false;   // RandomHorizontalFlip(0.5)
  // RandomResizedCrop(size, scale, ratio); size {0, 0}: the input's size.
  bool resizedCrop = false;
  SourcePos resizedCropPos; // where random_resized_crop is written
  cnn::shape::Pair resizedCropSize{0, 0};
  SourcePos resizedCropSizePos;
  double scale[2] = {0.08, 1.0};
  double ratio[2] = {3.0 / 4.0, 4.0 / 3.0};
  // eval_transform: Resize (one value: the shorter side; two: [h, w]; none:
  // no resize) and CenterCrop (size {0, 0}: none).
  bool evalTransform = false;
  SourcePos evalTransformPos;
  std::vector<int64_t> resize;
  SourcePos resizePos;
  cnn::shape::Pair centerCrop{0, 0};
  SourcePos centerCropPos;
};

/// A `freeze:` pattern (shell glob over parameter names) and where it is.
struct FreezePattern {
  std::string glob;
  SourcePos pos;
};

/// The `train:` section: defaults for `cnnc train`, overridable by flags.
struct TrainSpec {
  int64_t batchSize = 64;
  int64_t epochs = 1;
  SgdSpec sgd;
  StepLrSpec stepLr;
  CosineLrSpec cosineLr;
  DataPrepSpec data;
  std::vector<FreezePattern> freeze;
  double valSplit = 0;  // fraction of the training data held out for validation
  bool keepBest = true; // output the weights of the best validation epoch
  // init: the weights file to start from (as `cnnc train --weights`) and
  // the globs of tensors to start anew instead (as --skip).
  std::string initWeights;
  std::vector<std::string> initSkip;
  /// How a batchnorm2d whose weight and bias are both frozen runs in the
  /// training step: "eval" (running statistics, not updated) or
  /// "batch_stats" (batch statistics, running ones updated, as PyTorch's
  /// model.train()).
  std::string frozenBatchNorm = "eval";
};

struct NetworkSpec {
  std::string name;
  std::vector<int64_t> input; // [C, H, W] or [F], without the batch
  SourcePos inputPos;
  /// Every layer once, in an order where each comes after its inputs (the
  /// written order when the file refers only to earlier nodes). The last
  /// one is the network's output.
  std::vector<LayerSpec> layers;
  std::string loss = "cross_entropy";
  TrainSpec train;
};

/// Receives each problem found, with its position; parsing goes on after it.
using SpecDiagnosticFn =
    std::function<void(SourcePos pos, const std::string &message)>;

/// Parses a network description. Reports every problem it finds through
/// `diagnose` and returns false if there was any. `defaultName` names a
/// network without a `name:` key (the file's stem).
bool parseNetworkSpec(const std::string &text, const std::string &defaultName,
                      NetworkSpec &spec, const SpecDiagnosticFn &diagnose);

/// Limits that keep a malformed file from exhausting memory.
constexpr int64_t kMaxRepeat = 1000;
constexpr int64_t kMaxLayers = 10000;
constexpr int64_t kMaxDimension = 1 << 20;

} // namespace cnnc

#endif // CNNC_IMPORTER_NETWORKSPEC_H
