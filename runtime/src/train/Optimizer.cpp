#include "cnnc/train/Optimizer.h"

#include "cnnc/ModelLibrary.h"

#include <utility>

namespace cnnc::rt {

Expected<SgdOptimizer> SgdOptimizer::create(const ModelLibrary &model,
                                            std::vector<Tensor> parameters,
                                            std::vector<Tensor> momentum,
                                            int64_t steps, uint64_t seed,
                                            dist::Communicator *comm) {
  const std::vector<ParameterSpec> &specs = model.parameters();
  if (parameters.size() != specs.size())
    return Error(model.path() + ": the network has " +
                 std::to_string(specs.size()) + " parameters, not " +
                 std::to_string(parameters.size()));
  if (!momentum.empty() && momentum.size() != specs.size())
    return Error(model.path() + ": expected " + std::to_string(specs.size()) +
                 " momentum buffers, not " + std::to_string(momentum.size()));
  if (steps < 0)
    return Error("the step count must not be negative");
  SgdOptimizer opt;
  opt.model_ = &model;
  opt.trainable_ = model.trainable();
  opt.steps_ = steps;
  opt.seed_ = seed;
  opt.comm_ = comm;
  const bool fresh = momentum.empty();
  if (fresh)
    momentum.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const ParameterSpec &spec = specs[i];
    if (parameters[i].dtype() != DType::F32 ||
        parameters[i].shape() != spec.shape)
      return Error(model.path() + ": parameter '" + spec.name + "' is " +
                   dtypeName(parameters[i].dtype()) + " " +
                   shapeToString(parameters[i].shape()) +
                   " but the network expects F32 " + shapeToString(spec.shape));
    if (!opt.trainable_[i]) {
      momentum[i] = Tensor();
      if (model.updated()[i])
        opt.nextParameters_.emplace_back(DType::F32, spec.shape);
      else
        opt.nextParameters_.emplace_back();
      opt.nextMomentum_.emplace_back();
      continue;
    }
    if (fresh)
      momentum[i] = Tensor(DType::F32, spec.shape);
    else if (momentum[i].dtype() != DType::F32 ||
             momentum[i].shape() != spec.shape)
      return Error(model.path() + ": the momentum buffer of '" + spec.name +
                   "' is " + dtypeName(momentum[i].dtype()) + " " +
                   shapeToString(momentum[i].shape()) +
                   " but the network expects F32 " + shapeToString(spec.shape));
    opt.nextParameters_.emplace_back(DType::F32, spec.shape);
    // Copied, not zeroed: a step without momentum leaves the buffer unwritten,
    // and swapping must then keep its values.
    opt.nextMomentum_.push_back(momentum[i]);
  }
  opt.parameters_ = std::move(parameters);
  opt.momentum_ = std::move(momentum);
  if (opt.acrossProcesses()) {
    // The update runs in place: no second set of buffers.
    opt.nextParameters_.clear();
    opt.nextMomentum_.clear();
    if (Status s = opt.prepareAcrossProcesses(); !s)
      return s;
    return opt;
  }
  if (model.hasSessions()) {
    std::vector<const Tensor *> p, v;
    for (size_t i = 0; i < specs.size(); ++i) {
      p.push_back(&opt.parameters_[i]);
      v.push_back(opt.trainable_[i] ? &opt.momentum_[i] : nullptr);
    }
    Expected<ModelLibrary::Session> session =
        model.createSession(p, v, opt.steps_, seed);
    if (!session)
      return session.error();
    opt.session_ = std::move(*session);
  }
  return opt;
}

Expected<Tensor> SgdOptimizer::forward(const Tensor &images) const {
  if (session_)
    return session_->forward(images);
  return model_->forward(images, parameterPointers());
}

Status SgdOptimizer::syncToHost() {
  return session_ ? session_->read(parameters_, momentum_) : Status::success();
}

std::vector<const Tensor *> SgdOptimizer::parameterPointers() const {
  std::vector<const Tensor *> p;
  for (const Tensor &t : parameters_)
    p.push_back(&t);
  return p;
}

ModelLibrary::SgdStep SgdOptimizer::nextStep(double lr,
                                             const SgdOptions &options) const {
  ModelLibrary::SgdStep hyper;
  hyper.lr = static_cast<float>(lr);
  hyper.momentum = static_cast<float>(options.momentum);
  hyper.weightDecay = static_cast<float>(options.weightDecay);
  hyper.nesterov = options.nesterov;
  hyper.firstStep = steps_ == 0;
  hyper.seed = seed_;
  hyper.index = steps_;
  return hyper;
}

Expected<float> SgdOptimizer::step(const Tensor &images, const Tensor &labels,
                                   double lr, const SgdOptions &options,
                                   const std::string &labelSource,
                                   int64_t firstInGlobalBatch) {
  if (acrossProcesses())
    return stepAcrossProcesses(images, labels, lr, options, labelSource,
                               firstInGlobalBatch);
  const ModelLibrary::SgdStep hyper = nextStep(lr, options);
  lastBatchSize_ = images.rank() > 0 ? images.shape()[0] : 0;
  if (session_) {
    Expected<float> loss =
        session_->trainStep(images, labels, hyper, labelSource);
    if (loss)
      ++steps_;
    return loss;
  }
  const size_t n = parameters_.size();
  std::vector<const Tensor *> p(n), v(n);
  std::vector<Tensor *> pNew(n, nullptr), vNew(n, nullptr);
  const std::vector<bool> &updated = model_->updated();
  for (size_t i = 0; i < n; ++i) {
    p[i] = &parameters_[i];
    if (updated[i])
      pNew[i] = &nextParameters_[i];
    if (!trainable_[i])
      continue;
    v[i] = &momentum_[i];
    vNew[i] = &nextMomentum_[i];
  }
  Expected<float> loss =
      model_->trainStep(images, labels, p, v, pNew, vNew, hyper, labelSource);
  if (!loss)
    return loss;
  for (size_t i = 0; i < n; ++i) {
    if (updated[i])
      std::swap(parameters_[i], nextParameters_[i]);
    if (!trainable_[i])
      continue;
    // Without momentum the library does not write the new buffer.
    if (hyper.momentum != 0.0f)
      std::swap(momentum_[i], nextMomentum_[i]);
  }
  ++steps_;
  return loss;
}

} // namespace cnnc::rt
