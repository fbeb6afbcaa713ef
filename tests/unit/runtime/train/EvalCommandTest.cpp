// `cnnc eval` on known weights and data.
#include "TrainTestUtil.h"

#include "cnnc/Safetensors.h"

#include <cmath>
#include <limits>

namespace cnnc::rt {
namespace {

using test::CommandResult;
using test::contains;
using test::runEval;

class EvalCommandTest : public test::TempDirTest {
protected:
  // Weights with logit o = 10 * x[o]: the prediction is the largest of the
  // first three features.
  void writeWeights() {
    TensorMap w;
    Tensor weight(DType::F32, {3, 8}), bias(DType::F32, {3});
    for (int o = 0; o < 3; ++o)
      weight.f32()[o * 8 + o] = 10.0f;
    w.emplace("fc.weight", std::move(weight));
    w.emplace("fc.bias", std::move(bias));
    ASSERT_TRUE(writeSafetensors(path("w.safetensors"), w).ok());
  }
  // Samples predicted as `predicted[i]` with labels `labels[i]`.
  std::string writeData(const std::vector<int64_t> &predicted,
                        const std::vector<int64_t> &labels, float hot = 1.0f) {
    const int64_t n = static_cast<int64_t>(labels.size());
    Tensor x(DType::F32, {n, 2, 2, 2}), y(DType::I64, {n});
    for (int64_t i = 0; i < n; ++i) {
      x.f32()[i * 8 + predicted[static_cast<size_t>(i)]] = hot;
      y.i64()[i] = labels[static_cast<size_t>(i)];
    }
    return test::writeNpyData(path("x.npy"), path("y.npy"), x, y);
  }
};

TEST_F(EvalCommandTest, PrintsLossAccuracyAndTheConfusionMatrix) {
  writeWeights();
  std::string data = writeData({0, 0, 1, 2, 2, 1}, {0, 1, 1, 2, 0, 1});
  CommandResult r =
      runEval({CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--data",
               data, "--batch-size", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  // Correct: logits (10, 0, 0) -> loss log(e^10 + 2) - 10; wrong: log(e^10 +
  // 2).
  const double right = std::log(std::exp(10.0) + 2) - 10,
               wrong = std::log(std::exp(10.0) + 2);
  char expected[64];
  std::snprintf(expected, sizeof expected,
                "loss %.6f, accuracy 66.67%% (4/6)\n",
                (4 * right + 2 * wrong) / 6);
  EXPECT_TRUE(contains(r.out, expected)) << r.out;
  EXPECT_TRUE(contains(
      r.out, "confusion matrix (rows: true class, columns: predicted class):\n"
             "true \\ predicted  0  1  2   recall\n"
             "0                 1  0  1   50.00%\n"
             "1                 1  2  0   66.67%\n"
             "2                 0  0  1  100.00%\n"))
      << r.out;
}

TEST_F(EvalCommandTest, WarnsAboutNonFiniteWeights) {
  writeWeights();
  TensorMap w = readSafetensors(path("w.safetensors"))->tensors;
  w.at("fc.bias").f32()[2] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), w).ok());
  CommandResult r =
      runEval({CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--data",
               writeData({0, 1}, {0, 1})});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "cnnc eval: warning: " + path("w.safetensors") +
                                  ": tensor 'fc.bias' holds 1 NaN value, the "
                                  "first at [2]"))
      << r.err;
}

TEST_F(EvalCommandTest, UsesTheRecipesNormalization) {
  // The FAKE_NORMALIZE recipe normalizes with mean 1, std 2: a hot feature
  // of 3 becomes 1 and the others -0.5, so logits are (10, -5, -5) etc.
  writeWeights();
  std::string data = writeData({2}, {2}, 3.0f);
  CommandResult r = runEval({CNNC_FAKE_MODEL_NORM, "--weights",
                             path("w.safetensors"), "--data", data});
  ASSERT_EQ(r.code, 0) << r.err;
  char expected[64];
  std::snprintf(expected, sizeof expected, "loss %.6f, accuracy 100.00%% (1/1)",
                std::log(std::exp(10.0) + 2 * std::exp(-5.0)) - 10);
  EXPECT_TRUE(contains(r.out, expected)) << r.out;
}

TEST_F(EvalCommandTest, Errors) {
  writeWeights();
  std::string data = writeData({0}, {5});
  CommandResult r = runEval(
      {CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--data", data});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      contains(r.err, path("y.npy") + ": label 5 at index 0 is out of range"))
      << r.err;
  r = runEval({CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--data",
               data, "--split", "validation"});
  EXPECT_TRUE(contains(r.err, "unknown split 'validation'")) << r.err;
  r = runEval({CNNC_FAKE_MODEL, "--data", data});
  EXPECT_TRUE(contains(r.err, "missing --weights")) << r.err;
  r = runEval({CNNC_FAKE_MODEL_HEAD, "--weights", path("w.safetensors"),
               "--data", data});
  EXPECT_TRUE(contains(r.err, "tensor 'head.weight' is missing")) << r.err;
}

} // namespace
} // namespace cnnc::rt
