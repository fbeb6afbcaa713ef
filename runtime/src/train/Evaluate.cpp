#include "cnnc/train/Evaluate.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/data/BatchPrefetcher.h"
#include "cnnc/data/DataLoader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace cnnc::rt {

void EvalResult::add(const float *logits, const int64_t *labels, int64_t n) {
  for (int64_t s = 0; s < n; ++s) {
    const float *z = logits + s * classes;
    int64_t best = 0;
    double max = -std::numeric_limits<double>::infinity();
    bool any = false;
    for (int64_t k = 0; k < classes; ++k)
      if (!std::isnan(z[k]) && (!any || z[k] > max)) {
        max = z[k];
        best = k;
        any = true;
      }
    double sum = 0.0;
    for (int64_t k = 0; k < classes; ++k)
      sum += std::exp(static_cast<double>(z[k]) - max);
    const int64_t label = labels[s];
    lossSum += max + std::log(sum) - static_cast<double>(z[label]);
    confusion[static_cast<size_t>(label * classes + best)] += 1;
    correct += best == label;
    ++samples;
  }
}

Expected<EvalResult> evaluate(const ModelLibrary &model,
                              const std::vector<const Tensor *> &parameters,
                              const data::DataLoader &loader) {
  // On a GPU, a session puts the parameters on the device once; the
  // pointer-based forward pass would copy them there for every batch.
  const auto &info = model.libraryInfo();
  if (info && info->onGpu() && model.hasSessions()) {
    Expected<ModelLibrary::Session> session =
        model.createSession(parameters, {}, 0);
    if (!session)
      return session.error();
    return evaluate(
        model, [&](const Tensor &images) { return session->forward(images); },
        loader);
  }
  return evaluate(
      model,
      [&](const Tensor &images) { return model.forward(images, parameters); },
      loader);
}

Expected<EvalResult> evaluate(const ModelLibrary &model,
                              const ForwardPass &forward,
                              const data::DataLoader &loader) {
  Expected<int64_t> classes = model.numClasses();
  if (!classes)
    return classes.error();
  EvalResult result(*classes);
  data::BatchPrefetcher prefetcher(loader);
  for (int64_t b = 0; b < loader.numBatches(); ++b) {
    Expected<const data::Batch *> next = prefetcher.next();
    if (!next)
      return next.error();
    const data::Batch &batch = **next;
    // A shard's slice of a last partial batch may be empty.
    if (batch.size() == 0)
      continue;
    Expected<Tensor> logits = forward(batch.images);
    if (!logits)
      return logits.error();
    for (int64_t s = 0; s < batch.size(); ++s) {
      int64_t label = batch.labels.i64()[s];
      if (label < 0 || label >= *classes)
        return Error(loader.dataset().labelsSource + ": label " +
                     std::to_string(label) +
                     " is out of range for a network with " +
                     std::to_string(*classes) + " outputs");
    }
    result.add(logits->f32(), batch.labels.i64(), batch.size());
  }
  return result;
}

std::string formatConfusionMatrix(const EvalResult &r,
                                  const std::vector<std::string> &classNames) {
  const bool named = static_cast<int64_t>(classNames.size()) == r.classes;
  std::vector<std::string> rowLabels;
  size_t labelWidth = std::string("true \\ predicted").size();
  for (int64_t k = 0; k < r.classes; ++k) {
    std::string label = std::to_string(k);
    if (named)
      label += " " + classNames[static_cast<size_t>(k)];
    labelWidth = std::max(labelWidth, label.size());
    rowLabels.push_back(label);
  }
  int64_t largest = 0;
  for (int64_t c : r.confusion)
    largest = std::max(largest, c);
  const size_t cell = std::max(std::to_string(largest).size(),
                               std::to_string(r.classes - 1).size()) +
                      1;
  auto pad = [](const std::string &s, size_t width, bool left) {
    std::string fill(width > s.size() ? width - s.size() : 0, ' ');
    return left ? s + fill : fill + s;
  };

  std::string out = pad("true \\ predicted", labelWidth, true);
  for (int64_t k = 0; k < r.classes; ++k)
    out += " " + pad(std::to_string(k), cell, false);
  out += "   recall\n";
  for (int64_t t = 0; t < r.classes; ++t) {
    out += pad(rowLabels[static_cast<size_t>(t)], labelWidth, true);
    int64_t total = 0;
    for (int64_t p = 0; p < r.classes; ++p) {
      out += " " + pad(std::to_string(r.count(t, p)), cell, false);
      total += r.count(t, p);
    }
    char recall[32];
    if (total > 0)
      std::snprintf(recall, sizeof recall, "  %6.2f%%",
                    100.0 * static_cast<double>(r.count(t, t)) /
                        static_cast<double>(total));
    else
      std::snprintf(recall, sizeof recall, "        -");
    out += recall;
    out += "\n";
  }
  return out;
}

} // namespace cnnc::rt
