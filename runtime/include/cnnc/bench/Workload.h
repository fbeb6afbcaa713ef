// What `cnnc bench` runs: one batch of random images and labels, PyTorch's
// default initial weights, and the double-buffered SGD state, set up once so
// that a timed call does nothing but call the library.
#ifndef CNNC_BENCH_WORKLOAD_H
#define CNNC_BENCH_WORKLOAD_H

#include "cnnc/Error.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/Tensor.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace cnnc::rt::bench {

class Workload {
public:
  // Images uniform in [0, 1), labels uniform over the classes, weights from
  // initParameters; everything depends only on `seed`. `model` must outlive
  // the workload.
  static Expected<Workload> create(const ModelLibrary &model, int64_t batch,
                                   uint64_t seed);

  int64_t batch() const { return batch_; }

  // One cnnc_forward on the batch.
  Status forward();

  // Whether the library has a training step: a classifier ([N, K] output)
  // with at least one trainable parameter.
  bool hasTrainStep() const { return hasTrainStep_; }

  // One training step (lr 0.01, momentum 0.9) as the trainer takes it: in
  // a session when the library has them (the state stays in the library,
  // on the device for a GPU library), else one cnnc_train_step, then the
  // new parameters and momentum buffers are swapped in.
  Status trainStep();

private:
  Workload() = default;
  const ModelLibrary *model_ = nullptr;
  int64_t batch_ = 0;
  bool hasTrainStep_ = false;
  bool firstStep_ = true;
  Tensor input_, labels_, output_;
  std::vector<Tensor> buffers_; // parameters, momentum, and their next buffers
  std::vector<const float *> parameters_, momentum_;
  std::vector<float *> nextParameters_, nextMomentum_;
  std::optional<ModelLibrary::Session> session_;
};

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_WORKLOAD_H
