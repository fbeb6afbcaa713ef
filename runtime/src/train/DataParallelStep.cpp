// SgdOptimizer across processes (docs/data-parallel.md): every process
// takes its slice of the global batch through the library's gradient step,
// one sum over the processes combines the gradients (weighted by the
// slices' sizes, so the result is the global batch's mean gradient) and
// the batch norms' new running statistics (their mean over the processes
// that had samples), and every process applies the library's update to
// the same bits.
#include "cnnc/train/Optimizer.h"

#include <algorithm>

namespace cnnc::rt {

namespace {

// Checksums compared this often (in steps), and after every epoch.
constexpr int64_t kCheckEvery = 64;

} // namespace

Status SgdOptimizer::prepareAcrossProcesses() {
  const ModelLibrary &model = *model_;
  if (!model.hasGradientStep())
    return Error(model.path() +
                 ": the library has no gradient step (cnnc_gradient_step), "
                 "which training across processes needs; recompile it with "
                 "this cnnc");
  // Rank 0's state is everyone's.
  if (Status s = dist::broadcastTensors(*comm_, parameters_); !s)
    return s;
  if (Status s = dist::broadcastTensors(*comm_, momentum_); !s)
    return s;
  if (Status s = comm_->broadcast(&steps_, sizeof steps_); !s)
    return s;
  size_t total = 3;
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (model.updated()[i])
      total += size_t(parameters_[i].numElements());
  reduced_.assign(total, 0.0f);
  gradientSlices_.assign(parameters_.size(), nullptr);
  bufferSlices_.assign(parameters_.size(), nullptr);
  float *next = reduced_.data();
  for (bool gradients : {true, false})
    for (size_t i = 0; i < parameters_.size(); ++i) {
      if (!model.updated()[i] || trainable_[i] != gradients)
        continue;
      (gradients ? gradientSlices_ : bufferSlices_)[i] = next;
      next += parameters_[i].numElements();
    }
  return checkInSync().status();
}

Expected<std::optional<uint64_t>> SgdOptimizer::checkInSync() {
  if (!acrossProcesses())
    return std::optional<uint64_t>();
  const uint64_t sum = dist::checksum(momentum_, dist::checksum(parameters_));
  if (Status s = dist::checkSameEverywhere(
          *comm_, sum,
          "the parameters after " + std::to_string(steps_) + " steps");
      !s)
    return s.error();
  return std::optional<uint64_t>(sum);
}

Expected<float>
SgdOptimizer::stepAcrossProcesses(const Tensor &images, const Tensor &labels,
                                  double lr, const SgdOptions &options,
                                  const std::string &labelSource,
                                  int64_t firstInGlobalBatch) {
  const ModelLibrary &model = *model_;
  const size_t count = parameters_.size();
  const int64_t batch = images.rank() > 0 ? images.shape()[0] : 0;
  std::fill(reduced_.begin(), reduced_.end(), 0.0f);
  float *totals = reduced_.data() + reduced_.size() - 3;
  const ModelLibrary::SgdStep hyper = nextStep(lr, options);
  if (batch > 0) {
    if (Status s = model.checkTrainingBatch(images, labels, labelSource); !s)
      return s;
    std::vector<const float *> p(count);
    for (size_t i = 0; i < count; ++i)
      p[i] = parameters_[i].f32();
    float loss = 0.0f;
    if (Status s = model.gradientStepRaw(
            batch, images.f32(), labels.i64(), p.data(), gradientSlices_.data(),
            bufferSlices_.data(), hyper.seed, hyper.index, firstInGlobalBatch,
            &loss);
        !s)
      return s;
    // Weighted by the slice's size: the sum is then the global batch's
    // gradient times its size.
    const float weight = static_cast<float>(batch);
    for (size_t i = 0; i < count; ++i)
      if (float *g = gradientSlices_[i])
        for (int64_t k = 0; k < parameters_[i].numElements(); ++k)
          g[k] *= weight;
    totals[0] = loss * weight;
    totals[1] = weight;
    totals[2] = 1.0f;
  }
  if (Status s = comm_->sum(reduced_.data(), reduced_.size()); !s)
    return s;
  const float samples = totals[1], processes = totals[2];
  if (samples <= 0.0f || processes <= 0.0f)
    return Error("a training step across processes had no samples");
  std::vector<const float *> p(count, nullptr), v(count, nullptr),
      g(count, nullptr);
  std::vector<float *> pNew(count, nullptr), vNew(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    if (float *slice = gradientSlices_[i]) {
      for (int64_t k = 0; k < parameters_[i].numElements(); ++k)
        slice[k] /= samples;
      p[i] = pNew[i] = parameters_[i].f32();
      v[i] = vNew[i] = momentum_[i].f32();
      g[i] = slice;
    } else if (const float *mean = bufferSlices_[i]) {
      float *buffer = parameters_[i].f32();
      for (int64_t k = 0; k < parameters_[i].numElements(); ++k)
        buffer[k] = mean[k] / processes;
    }
  }
  // In place: the library's update works element by element.
  if (Status s = model.sgdUpdateRaw(p.data(), v.data(), g.data(), pNew.data(),
                                    vNew.data(), hyper);
      !s)
    return s;
  ++steps_;
  lastBatchSize_ = static_cast<int64_t>(samples);
  if (steps_ % kCheckEvery == 0)
    if (Status s = checkInSync().status(); !s)
      return s;
  return totals[0] / samples;
}

} // namespace cnnc::rt
