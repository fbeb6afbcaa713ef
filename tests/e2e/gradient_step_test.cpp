// The two halves of a training step (cnnc_gradient_step, cnnc_sgd_update)
// on generated libraries (LeNet, a batch-norm net, a dropout net): the
// gradient is what the fused step's update reads, bit for bit, and a
// gradient step followed by the update is the fused step up to the
// rounding of the update, over several steps with momentum, weight decay
// and Nesterov.
#include "cnnc/ModelLibrary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using cnnc::rt::DType;
using cnnc::rt::ModelLibrary;
using cnnc::rt::Shape;
using cnnc::rt::Tensor;

constexpr int64_t kBatch = 4;
// The split step rounds its update as C does, the fused pipeline as Halide
// compiles it (multiply-adds may be fused): after three steps they were
// measured 4.4e-7 apart (relative to a tensor's largest value) at most.
constexpr double kRounding = 2e-6;

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    const cnnc::rt::Status status_ = (expr);                                   \
    ASSERT_TRUE(status_) << status_.message();                                 \
  } while (0)

std::vector<std::string> libraries() {
  return {CNNC_LENET_LIBRARY, CNNC_BATCHNORM_LIBRARY, CNNC_DROPOUT_LIBRARY};
}

Tensor randomTensor(const Shape &shape, std::mt19937 &rng, float low,
                    float high) {
  Tensor t(DType::F32, shape);
  std::uniform_real_distribution<float> uniform(low, high);
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.f32()[i] = uniform(rng);
  return t;
}

// A model's state and a batch, with float pointer tables in parameter
// order (null where the library ignores the entry).
struct ModelState {
  explicit ModelState(const std::string &path) {
    cnnc::rt::Expected<ModelLibrary> loaded = ModelLibrary::load(path);
    if (!loaded)
      ADD_FAILURE() << loaded.error().message();
    else
      model.emplace(std::move(*loaded));
  }

  void initialise() {
    std::mt19937 rng(42);
    for (const cnnc::rt::ParameterSpec &spec : model->parameters()) {
      const bool variance = spec.name.find("running_var") != std::string::npos;
      parameters.push_back(variance
                               ? randomTensor(spec.shape, rng, 0.5f, 1.5f)
                               : randomTensor(spec.shape, rng, -0.2f, 0.2f));
      momentum.push_back(randomTensor(spec.shape, rng, -0.1f, 0.1f));
    }
    Shape in = model->inputShape();
    in[0] = kBatch;
    input = randomTensor(in, rng, -1, 1);
    labels = Tensor(DType::I64, {kBatch});
    const int64_t classes = *model->numClasses();
    for (int64_t n = 0; n < kBatch; ++n)
      labels.i64()[n] = n % classes;
  }

  size_t count() const { return parameters.size(); }
  bool trainable(size_t i) const { return model->trainable()[i]; }
  bool updatedBuffer(size_t i) const {
    return model->updated()[i] && !trainable(i);
  }

  std::vector<Tensor> like(bool (ModelState::*which)(size_t) const) const {
    std::vector<Tensor> result(count());
    for (size_t i = 0; i < count(); ++i)
      if ((this->*which)(i))
        result[i] = Tensor(DType::F32, parameters[i].shape());
    return result;
  }

  static std::vector<float *> pointers(std::vector<Tensor> &tensors) {
    std::vector<float *> p;
    for (Tensor &t : tensors)
      p.push_back(t.numElements() ? t.f32() : nullptr);
    return p;
  }

  static std::vector<const float *>
  constPointers(std::vector<Tensor> &tensors) {
    std::vector<const float *> p;
    for (Tensor &t : tensors)
      p.push_back(t.numElements() ? t.f32() : nullptr);
    return p;
  }

  std::optional<ModelLibrary> model;
  std::vector<Tensor> parameters, momentum;
  Tensor input, labels;
};

// The largest |a - b| relative to the largest |b| of the tensor.
double relativeDifference(const Tensor &a, const Tensor &b) {
  double scale = 0, worst = 0;
  for (int64_t k = 0; k < b.numElements(); ++k) {
    scale = std::max(scale, double(std::fabs(b.f32()[k])));
    worst = std::max(worst, double(std::fabs(a.f32()[k] - b.f32()[k])));
  }
  return scale > 0 ? worst / scale : worst;
}

bool sameBits(const Tensor &a, const Tensor &b) {
  return a.numElements() == b.numElements() &&
         std::equal(a.f32(), a.f32() + a.numElements(), b.f32());
}

TEST(GradientStep, IsTheGradientTheFusedUpdateReads) {
  for (const std::string &path : libraries()) {
    SCOPED_TRACE(path);
    ModelState s(path);
    ASSERT_TRUE(s.model);
    ASSERT_TRUE(s.model->hasGradientStep());
    s.initialise();
    // The fused step's first-step momentum without weight decay is g.
    ModelLibrary::SgdStep step;
    step.lr = 0.1f;
    step.momentum = 0.9f;
    step.firstStep = true;
    step.seed = 7;
    step.index = 2;
    std::vector<Tensor> fusedParameters = s.like(&ModelState::trainable);
    for (size_t i = 0; i < s.count(); ++i)
      if (s.updatedBuffer(i))
        fusedParameters[i] = Tensor(DType::F32, s.parameters[i].shape());
    std::vector<Tensor> fusedMomentum = s.like(&ModelState::trainable);
    float fusedLoss = 0;
    ASSERT_OK(s.model->trainStepRaw(
        kBatch, s.input.f32(), s.labels.i64(),
        ModelState::constPointers(s.parameters).data(),
        ModelState::constPointers(s.momentum).data(),
        ModelState::pointers(fusedParameters).data(),
        ModelState::pointers(fusedMomentum).data(), step, &fusedLoss));

    std::vector<Tensor> gradients = s.like(&ModelState::trainable);
    std::vector<Tensor> buffers = s.like(&ModelState::updatedBuffer);
    float loss = 0;
    ASSERT_OK(s.model->gradientStepRaw(
        kBatch, s.input.f32(), s.labels.i64(),
        ModelState::constPointers(s.parameters).data(),
        ModelState::pointers(gradients).data(),
        ModelState::pointers(buffers).data(), step.seed, step.index, 0, &loss));
    EXPECT_EQ(loss, fusedLoss);
    for (size_t i = 0; i < s.count(); ++i) {
      SCOPED_TRACE(s.model->parameters()[i].name);
      if (s.trainable(i)) {
        EXPECT_TRUE(sameBits(gradients[i], fusedMomentum[i]));
      }
      if (s.updatedBuffer(i)) {
        EXPECT_TRUE(sameBits(buffers[i], fusedParameters[i]));
      }
    }
  }
}

TEST(GradientStep, FollowedByTheUpdateIsTheFusedStep) {
  for (const std::string &path : libraries())
    for (bool nesterov : {false, true}) {
      SCOPED_TRACE(path + (nesterov ? ", nesterov" : ""));
      ModelState s(path);
      ASSERT_TRUE(s.model);
      s.initialise();
      ModelLibrary::SgdStep step;
      step.lr = 0.01f;
      step.momentum = 0.9f;
      step.weightDecay = 1e-3f;
      step.nesterov = nesterov;
      step.seed = 3;
      // The fused chain, double buffered as the ABI wants.
      std::vector<Tensor> p = s.parameters, v = s.momentum;
      // The split chain, updated in place.
      std::vector<Tensor> q = s.parameters, w = s.momentum;
      for (int64_t k = 0; k < 3; ++k) {
        step.firstStep = k == 0;
        step.index = k;
        std::vector<Tensor> pNew = p, vNew = v;
        float fusedLoss = 0, loss = 0;
        ASSERT_OK(s.model->trainStepRaw(kBatch, s.input.f32(), s.labels.i64(),
                                        ModelState::constPointers(p).data(),
                                        ModelState::constPointers(v).data(),
                                        ModelState::pointers(pNew).data(),
                                        ModelState::pointers(vNew).data(), step,
                                        &fusedLoss));
        p = std::move(pNew);
        v = std::move(vNew);

        std::vector<Tensor> gradients = s.like(&ModelState::trainable);
        std::vector<Tensor> buffers = s.like(&ModelState::updatedBuffer);
        ASSERT_OK(
            s.model->gradientStepRaw(kBatch, s.input.f32(), s.labels.i64(),
                                     ModelState::constPointers(q).data(),
                                     ModelState::pointers(gradients).data(),
                                     ModelState::pointers(buffers).data(),
                                     step.seed, step.index, 0, &loss));
        ASSERT_OK(
            s.model->sgdUpdateRaw(ModelState::constPointers(q).data(),
                                  ModelState::constPointers(w).data(),
                                  ModelState::constPointers(gradients).data(),
                                  ModelState::pointers(q).data(),
                                  ModelState::pointers(w).data(), step));
        for (size_t i = 0; i < s.count(); ++i)
          if (s.updatedBuffer(i))
            q[i] = std::move(buffers[i]);
        EXPECT_NEAR(loss, fusedLoss, kRounding * std::fabs(fusedLoss))
            << "step " << k;
      }
      for (size_t i = 0; i < s.count(); ++i) {
        SCOPED_TRACE(s.model->parameters()[i].name);
        EXPECT_LE(relativeDifference(q[i], p[i]), kRounding);
        if (s.trainable(i)) {
          EXPECT_LE(relativeDifference(w[i], v[i]), kRounding);
        }
      }
    }
}

// A batch cut in slices, each with its first sample's position (as the
// processes of data-parallel training take them), gives the whole batch's
// gradient: the dropout masks follow a sample's position in the whole
// batch, not in its slice.
TEST(GradientStep, SlicesDrawTheWholeBatchsMasks) {
  ModelState s(CNNC_DROPOUT_LIBRARY);
  ASSERT_TRUE(s.model);
  s.initialise();
  auto gradientOf = [&](int64_t first, int64_t count) {
    const int64_t sample = s.input.numElements() / kBatch;
    Shape shape = s.input.shape();
    shape[0] = count;
    Tensor input(DType::F32, shape), labels(DType::I64, {count});
    std::copy(s.input.f32() + first * sample,
              s.input.f32() + (first + count) * sample, input.f32());
    std::copy(s.labels.i64() + first, s.labels.i64() + first + count,
              labels.i64());
    std::vector<Tensor> gradients = s.like(&ModelState::trainable);
    std::vector<Tensor> buffers = s.like(&ModelState::updatedBuffer);
    float loss = 0;
    cnnc::rt::Status status = s.model->gradientStepRaw(
        count, input.f32(), labels.i64(),
        ModelState::constPointers(s.parameters).data(),
        ModelState::pointers(gradients).data(),
        ModelState::pointers(buffers).data(), 5, 1, first, &loss);
    EXPECT_TRUE(status) << status.message();
    return gradients;
  };
  const std::vector<Tensor> whole = gradientOf(0, kBatch);
  const std::vector<Tensor> head = gradientOf(0, kBatch / 2);
  const std::vector<Tensor> tail = gradientOf(kBatch / 2, kBatch / 2);
  for (size_t i = 0; i < s.count(); ++i) {
    if (!s.trainable(i))
      continue;
    SCOPED_TRACE(s.model->parameters()[i].name);
    Tensor mean(DType::F32, whole[i].shape());
    for (int64_t k = 0; k < mean.numElements(); ++k)
      mean.f32()[k] = (head[i].f32()[k] + tail[i].f32()[k]) / 2;
    EXPECT_LE(relativeDifference(mean, whole[i]), kRounding);
  }
}

} // namespace
