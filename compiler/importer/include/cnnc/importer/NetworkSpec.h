// A network description as parsed from YAML, before any shape is known.
//
// The YAML front end fills these plain structs (with source positions) and
// reports syntax and argument errors; building the cnn dialect from them is a
// separate step, which checks shapes.
#ifndef CNNC_IMPORTER_NETWORKSPEC_H
#define CNNC_IMPORTER_NETWORKSPEC_H

#include "cnn/ShapeRules.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cnnc {

/// A 1-based position in the YAML file.
struct SourcePos {
  unsigned line = 1;
  unsigned column = 1;
};

enum class LayerKind {
  Conv2d,
  Linear,
  Relu,
  Tanh,
  Sigmoid,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Add,
  BatchNorm2d,
};

/// The YAML spelling of a layer kind ("conv2d", ...).
const char *layerKindName(LayerKind kind);

/// `LayerSpec::inputs` entry for the network's input.
constexpr int kNetworkInput = -1;

/// One layer after `repeat` expansion and block instantiation. Only the
/// fields of its kind are used.
struct LayerSpec {
  LayerKind kind = LayerKind::Relu;
  std::string name; // unique in the network: "conv1", "layer1.0.conv1"
  SourcePos pos;
  /// What the layer reads: indices of earlier layers in NetworkSpec::layers,
  /// or kNetworkInput. One input; two for add.
  std::vector<int> inputs;
  // conv2d / linear
  int64_t outChannels = 0; // out_channels or out_features
  // in_channels / in_features / num_features (batchnorm2d), if given
  std::optional<int64_t> inChannels;
  SourcePos inChannelsPos;
  bool bias = true;
  bool trainable = true; // false: the layer's parameters are frozen
  // conv2d and pooling windows
  cnn::shape::Pair kernel{1, 1};
  cnn::shape::Pair stride{1, 1};
  cnn::shape::Pair padding{0, 0};
  cnn::shape::Pair dilation{1, 1};
  int64_t groups = 1;
  bool countIncludePad = true;
  // adaptive_avgpool2d
  cnn::shape::Pair outputSize{1, 1};
  // batchnorm2d (PyTorch's defaults)
  double eps = 1e-5;
  double momentum = 0.1;
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
