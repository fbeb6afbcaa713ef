// Evaluation of a classifier: mean softmax cross-entropy (in double, from
// the logits), accuracy and the confusion matrix.
#ifndef CNNC_TRAIN_EVALUATE_H
#define CNNC_TRAIN_EVALUATE_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cnnc::rt {

class ModelLibrary;
namespace data {
class DataLoader;
}

struct EvalResult {
  int64_t classes = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  double lossSum = 0.0; // sum over samples of -log softmax(logits)[label]
  // classes x classes counts, row = true class, column = predicted class.
  std::vector<int64_t> confusion;

  explicit EvalResult(int64_t numClasses = 0)
      : classes(numClasses),
        confusion(static_cast<size_t>(numClasses * numClasses), 0) {}
  double loss() const {
    return samples ? lossSum / static_cast<double>(samples) : 0.0;
  }
  double accuracy() const {
    return samples ? static_cast<double>(correct) / static_cast<double>(samples)
                   : 0.0;
  }
  int64_t count(int64_t trueClass, int64_t predicted) const {
    return confusion[static_cast<size_t>(trueClass * classes + predicted)];
  }

  // Adds `n` samples: logits [n, classes] and labels in [0, classes). The
  // prediction is the first largest logit (NaN never wins).
  void add(const float *logits, const int64_t *labels, int64_t n);
};

// Runs the network over every batch of `loader`'s current epoch (create it
// without shuffle for the usual order). Labels must be in range (check them
// first with data::checkLabels).
Expected<EvalResult> evaluate(const ModelLibrary &model,
                              const std::vector<const Tensor *> &parameters,
                              const data::DataLoader &loader);

// The logits of a batch of images (ModelLibrary::forward with given
// parameters, or a training session's forward pass).
using ForwardPass = std::function<Expected<Tensor>(const Tensor &images)>;

// The same with `forward` computing the logits.
Expected<EvalResult> evaluate(const ModelLibrary &model,
                              const ForwardPass &forward,
                              const data::DataLoader &loader);

// The confusion matrix as text: a header of predicted class indices, then one
// row per true class ("3 Dress" with class names), and each row's recall.
std::string formatConfusionMatrix(const EvalResult &result,
                                  const std::vector<std::string> &classNames);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_EVALUATE_H
