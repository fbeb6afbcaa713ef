#include "cnnc/recipe/TrainingRecipe.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cnnc::recipe {

const char *frozenBatchNormName(FrozenBatchNorm mode) {
  return mode == FrozenBatchNorm::BatchStats ? "batch_stats" : "eval";
}

namespace {
/// The key a path ends with, past its indices: "skip" for "init.skip[1]".
std::string lastKey(std::string path) {
  while (!path.empty() && path.back() == ']')
    path.erase(path.rfind('['));
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
} // namespace

std::string Problem::text() const {
  return named ? "'" + lastKey(path) + "' " + message : message;
}

std::string Problem::withPath() const {
  if (path.empty())
    return message;
  return path + (named ? " " : ": ") + message;
}

std::string keyPath(const std::string &parent, const std::string &key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string elementPath(const std::string &parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string parentPath(const std::string &path) {
  if (!path.empty() && path.back() == ']')
    return path.substr(0, path.rfind('['));
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string formatNumber(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value)
      break;
  }
  return text;
}

void checkSgd(const SgdOptions &sgd, const std::string &path,
              std::vector<Problem> &problems) {
  auto atLeastZero = [&](const char *key, double value) {
    if (!(std::isfinite(value) && value >= 0))
      problems.push_back({keyPath(path, key),
                          "must be at least 0, got " + formatNumber(value),
                          /*named=*/true});
  };
  if (!(std::isfinite(sgd.lr) && sgd.lr > 0))
    problems.push_back({keyPath(path, "lr"),
                        "must be above 0, got " + formatNumber(sgd.lr),
                        /*named=*/true});
  atLeastZero("momentum", sgd.momentum);
  atLeastZero("weight_decay", sgd.weightDecay);
  // As torch.optim.SGD: Nesterov's look-ahead is a momentum step.
  if (sgd.nesterov && !(sgd.momentum > 0))
    problems.push_back({keyPath(path, "nesterov"),
                        "Nesterov momentum needs a momentum above 0"});
}

void resolveForInput(TrainingRecipe &recipe, const std::vector<int64_t> &sample,
                     std::vector<Problem> &problems) {
  if (sample.empty())
    return;
  AugmentSpec &a = recipe.augment;
  std::optional<EvalTransformSpec> &e = recipe.evalTransform;
  // Crops and resizes work on images: [C, H, W].
  if (sample.size() != 3) {
    auto needsImage = [&](const char *path, const char *what, bool atKey) {
      problems.push_back(
          {path,
           std::string(what) +
               " needs an image input [channels, height, width], but the "
               "input is " +
               formatShape(sample),
           /*named=*/false, atKey});
    };
    if (a.randomCrop)
      needsImage("augment.random_crop", "random_crop", true);
    if (a.randomResizedCrop)
      needsImage("augment.random_resized_crop", "random_resized_crop", true);
    if (e)
      needsImage("eval_transform", "eval_transform", false);
    return;
  }
  // Every transform must produce the network's input: a size left out is
  // the input's, one written out must be it.
  const int64_t height = sample[1], width = sample[2];
  auto fit = [&](int64_t &h, int64_t &w, const char *path,
                 const std::string &what, const char *hint) {
    if (h == kInputSize) {
      h = height;
      w = width;
    } else if (h != height || w != width) {
      problems.push_back(
          {path, what + " " + std::to_string(h) + "x" + std::to_string(w) +
                     " is not the network's input size " +
                     std::to_string(height) + "x" + std::to_string(width) +
                     ": the transforms must produce the input" + hint});
    }
  };
  const char *omitSize = " (omit the size to use the input's)";
  if (a.randomCrop)
    fit(a.randomCrop->height, a.randomCrop->width, "augment.random_crop.size",
        "random_crop size", omitSize);
  if (a.randomResizedCrop)
    fit(a.randomResizedCrop->height, a.randomResizedCrop->width,
        "augment.random_resized_crop.size", "random_resized_crop size",
        omitSize);
  if (e && e->cropHeight != 0)
    fit(e->cropHeight, e->cropWidth, "eval_transform.center_crop",
        "center_crop", " (give center_crop no value to use the input's)");
  else if (e && e->resizeHeight > 0)
    fit(e->resizeHeight, e->resizeWidth, "eval_transform.resize", "resize", "");
}

} // namespace cnnc::recipe
