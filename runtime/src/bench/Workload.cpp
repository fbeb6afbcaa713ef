#include "cnnc/bench/Workload.h"

#include "cnnc/Init.h"
#include "cnnc/data/Random.h"

#include <algorithm>
#include <random>
#include <utility>

namespace cnnc::rt::bench {

Expected<Workload> Workload::create(const ModelLibrary &model, int64_t batch,
                                    uint64_t seed) {
  if (batch < 1)
    return Error("the batch size must be at least 1, not " +
                 std::to_string(batch));
  Workload w;
  w.model_ = &model;
  w.batch_ = batch;

  Shape inShape = model.inputShape(), outShape = model.outputShape();
  inShape[0] = outShape[0] = batch;
  Expected<Tensor> input =
      Tensor::create(DType::F32, inShape, model.path() + ": input");
  if (!input)
    return input.error();
  Expected<Tensor> output =
      Tensor::create(DType::F32, outShape, model.path() + ": output");
  if (!output)
    return output.error();
  w.input_ = std::move(*input);
  w.output_ = std::move(*output);
  std::mt19937_64 rng(data::mixSeed(seed, 1, 0));
  float *x = w.input_.f32();
  for (int64_t i = 0; i < w.input_.numElements(); ++i)
    x[i] = static_cast<float>(data::uniformUnit(rng));

  Expected<TensorMap> init = initParameters(model.parameters(), seed);
  if (!init)
    return init.error();
  const std::vector<ParameterSpec> &specs = model.parameters();
  const std::vector<bool> &trainable = model.trainable();
  const bool classifier = model.outputShape().size() == 2;
  w.hasTrainStep_ = classifier && model.hasTrainStep();

  // Every buffer is allocated before any pointer is taken: the vector must
  // not reallocate afterwards.
  const size_t n = specs.size();
  w.buffers_.reserve(4 * n);
  for (size_t i = 0; i < n; ++i)
    w.buffers_.push_back(std::move(init->at(specs[i].name)));
  // Momentum and its next buffer for trainable parameters; a next buffer
  // for every updated one (running statistics included). None without a
  // training step to time.
  const std::vector<bool> &updated = model.updated();
  auto needs = [&](size_t set, size_t i) {
    return w.hasTrainStep_ && (set == 1 ? updated[i] : trainable[i]);
  };
  for (size_t i = 0; i < 3 * n; ++i) {
    if (needs(i / n, i % n))
      w.buffers_.emplace_back(DType::F32, specs[i % n].shape);
    else
      w.buffers_.emplace_back();
  }
  for (size_t i = 0; i < n; ++i) {
    w.parameters_.push_back(w.buffers_[i].f32());
    const bool t = needs(0, i), u = needs(1, i);
    w.momentum_.push_back(t ? w.buffers_[n + i].f32() : nullptr);
    w.nextParameters_.push_back(u ? w.buffers_[2 * n + i].f32() : nullptr);
    w.nextMomentum_.push_back(t ? w.buffers_[3 * n + i].f32() : nullptr);
  }

  if (w.hasTrainStep_) {
    w.labels_ = Tensor(DType::I64, {batch});
    const uint64_t classes = static_cast<uint64_t>(model.outputShape()[1]);
    for (int64_t i = 0; i < batch; ++i)
      w.labels_.i64()[i] =
          static_cast<int64_t>(data::uniformBelow(rng, classes));
  }
  if (w.hasTrainStep_ && model.hasSessions()) {
    std::vector<const Tensor *> parameters;
    for (size_t i = 0; i < n; ++i)
      parameters.push_back(&w.buffers_[i]);
    Expected<ModelLibrary::Session> session =
        model.createSession(parameters, {}, 0);
    if (!session)
      return session.error();
    w.session_ = std::move(*session);
  }
  return w;
}

Status Workload::forward() {
  // A network without parameters still gets a non-null array.
  const float *none = nullptr;
  return model_->forwardRaw(batch_, input_.f32(),
                            parameters_.empty() ? &none : parameters_.data(),
                            output_.f32());
}

Status Workload::trainStep() {
  if (!hasTrainStep_)
    return Error(model_->path() + ": the library has no training step");
  ModelLibrary::SgdStep step;
  step.lr = 0.01f;
  step.momentum = 0.9f;
  step.firstStep = firstStep_;
  if (session_)
    return session_->trainStep(input_, labels_, step, "the benchmark's labels")
        .status();
  float loss = 0;
  if (Status s = model_->trainStepRaw(batch_, input_.f32(), labels_.i64(),
                                      parameters_.data(), momentum_.data(),
                                      nextParameters_.data(),
                                      nextMomentum_.data(), step, &loss);
      !s)
    return s;
  firstStep_ = false;
  // The step wrote the new values to the other buffers; they become the
  // current ones (frozen parameters keep their single buffer, updated
  // running statistics have no momentum).
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!nextParameters_[i])
      continue;
    float *oldP = const_cast<float *>(parameters_[i]);
    float *oldV = const_cast<float *>(momentum_[i]);
    parameters_[i] = nextParameters_[i];
    momentum_[i] = nextMomentum_[i];
    nextParameters_[i] = oldP;
    nextMomentum_[i] = oldV;
  }
  return Status::success();
}

} // namespace cnnc::rt::bench
