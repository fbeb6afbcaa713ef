// The training recipe of a network (the YAML `train:` section, and the JSON
// a generated library returns from cnnc_training_recipe) after its one set
// of defaults: the importer reads it from YAML, the runtime from a library,
// both through RecipeJson.h, so both accept the same forms, apply the same
// defaults and report the same problems. Plain C++17: no JSON, LLVM, MLIR or
// Halide in this header. docs/network-yaml.md documents every key.
#ifndef CNNC_RECIPE_TRAININGRECIPE_H
#define CNNC_RECIPE_TRAININGRECIPE_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::recipe {

/// A crop size that defaults to the network input's height and width, until
/// resolveForInput gives it the input's.
constexpr int64_t kInputSize = -1;

/// Integers of the recipe (batch size, epochs, sizes, ...) are at most this,
/// as the importer's layer arguments are.
constexpr int64_t kMaxInteger = 1 << 20;

/// torch.optim.SGD's arguments (dampening is always 0).
struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weightDecay = 0.0;
  bool nesterov = false;
};

enum class LrScheduleKind { Constant, Step, Cosine };

/// torch.optim.lr_scheduler.StepLR(step_size, gamma=0.1) or
/// CosineAnnealingLR(T_max, eta_min=0), stepped once per epoch. step_size
/// and t_max have no default; the values here only fill the fields of the
/// other kinds.
struct LrScheduleSpec {
  LrScheduleKind kind = LrScheduleKind::Constant;
  int64_t stepSize = 1; // step
  double gamma = 0.1;   // step
  int64_t tMax = 1;     // cosine
  double etaMin = 0.0;  // cosine
};

/// torchvision Normalize(mean, std): one value per channel, or one for all;
/// as many means as stds.
struct NormalizeSpec {
  std::vector<double> mean, std;
};

/// torchvision RandomCrop(size, padding).
struct RandomCropSpec {
  int64_t height = kInputSize, width = kInputSize, padding = 0;
};

/// torchvision RandomResizedCrop(size, scale, ratio).
struct RandomResizedCropSpec {
  int64_t height = kInputSize, width = kInputSize;
  double scaleMin = 0.08, scaleMax = 1.0;
  double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
};

struct AugmentSpec {
  std::optional<RandomCropSpec> randomCrop;
  std::optional<RandomResizedCropSpec> randomResizedCrop;
  double horizontalFlip = 0.0; // RandomHorizontalFlip's p; true is 0.5
};

/// The deterministic sizing for validation and evaluation, torchvision's
/// Resize(size) then CenterCrop(size); training data uses it too when
/// `augment` has no random_resized_crop.
struct EvalTransformSpec {
  int64_t resizeShorter = 0; // Resize(int): the shorter side; 0: none
  int64_t resizeHeight = 0, resizeWidth = 0; // Resize([h, w]); 0: none
  // CenterCrop; 0: none; kInputSize: the input's size.
  int64_t cropHeight = 0, cropWidth = 0;
};

/// How a batchnorm2d whose weight and bias are both frozen runs in the
/// training step: with its running statistics, kept (eval), or as PyTorch's
/// model.train() does, with the batch's, updating the running ones.
enum class FrozenBatchNorm { Eval, BatchStats };

/// "eval" or "batch_stats", as the recipe writes it.
const char *frozenBatchNormName(FrozenBatchNorm mode);

struct TrainingRecipe {
  int64_t batchSize = 64;
  int64_t epochs = 1;
  SgdOptions sgd;
  LrScheduleSpec schedule;
  std::optional<NormalizeSpec> normalize;
  AugmentSpec augment;
  std::optional<EvalTransformSpec> evalTransform;
  double valSplit = 0.0; // fraction of the training data held out; 0: none
  bool keepBest = true;  // output the best validation epoch's weights
  // init: weights to start from (a path as given, relative to the working
  // directory of `cnnc train`) and the globs of tensors to start anew.
  std::string initWeights;
  std::vector<std::string> initSkip;
  // Compile-time keys: the compiler builds them into the training step, so
  // a library's JSON leaves them out and the runtime ignores them.
  std::vector<std::string> freeze; // globs over parameter names
  FrozenBatchNorm frozenBatchNorm = FrozenBatchNorm::Eval;
};

/// One mistake in a recipe, found by key path: "batch_size",
/// "augment.random_crop.padding", "freeze[1]"; "" is the recipe itself.
struct Problem {
  std::string path;
  /// With `named`, what is wrong with the value at `path`, to follow its
  /// name ("must be at least 1, got 0"); else a whole sentence.
  std::string message;
  bool named = false;
  /// The problem is the key itself (an unknown or duplicate key), not its
  /// value.
  bool atKey = false;

  /// As the importer shows it at the path's position in the YAML:
  /// "'padding' must be non-negative, got -1".
  std::string text() const;
  /// Path first, for a recipe read without positions:
  /// "augment.random_crop.padding must be non-negative, got -1".
  std::string withPath() const;
};

/// `parent` + ".key" (or "key" at the top).
std::string keyPath(const std::string &parent, const std::string &key);
/// `parent` + "[index]".
std::string elementPath(const std::string &parent, size_t index);
/// The path without its last key or index; "" for a top-level key.
std::string parentPath(const std::string &path);

/// Checks the SGD values as torch.optim.SGD does (lr > 0, momentum and
/// weight decay >= 0, all finite, Nesterov only with momentum) and appends a
/// problem per mistake, at the paths "lr", "momentum", "weight_decay" and
/// "nesterov" under `path`.
void checkSgd(const SgdOptions &sgd, const std::string &path,
              std::vector<Problem> &problems);

/// Against the network's input `sample` (one sample's shape, [C, H, W] or
/// [F], without the batch): gives the sizes that default to the input
/// (kInputSize) its height and width, and appends a problem for each
/// transform that cannot produce the input (a crop or resize of a non-image
/// input; a crop or exact resize to another size). Does nothing for an
/// empty `sample` (an input that could not be read).
void resolveForInput(TrainingRecipe &recipe, const std::vector<int64_t> &sample,
                     std::vector<Problem> &problems);

/// "0.01", "1e-05", "0.33333333333333331": the shortest text that reads back
/// as `value`.
std::string formatNumber(double value);

} // namespace cnnc::recipe

#endif // CNNC_RECIPE_TRAININGRECIPE_H
