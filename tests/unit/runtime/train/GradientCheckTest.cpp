// The gradient check's arithmetic on functions with known gradients, and
// `cnnc check-grad` on the hand-written stand-in libraries (fake_model.c):
// one with the true gradient, one whose bias gradient is 1.5 times too big.
#include "TrainTestUtil.h"

#include "cnnc/Init.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/GradientCheck.h"

#include <cmath>
#include <limits>

namespace cnnc::rt {
namespace {

using test::CommandResult;
using test::contains;

// f(a, b) = sum_j c_j a_j^2 + sin(b_0) * b_1, evaluated in double and
// rounded to float32 as a library's loss would be.
struct SmoothFunction {
  std::vector<ParameterSpec> specs{{"a.weight", {2, 3}}, {"b.bias", {2}}};
  Tensor a{DType::F32, {2, 3}}, b{DType::F32, {2}};
  SmoothFunction() {
    for (int j = 0; j < 6; ++j)
      a.f32()[j] = 0.3f * static_cast<float>(j) - 0.7f;
    b.f32()[0] = 0.4f;
    b.f32()[1] = -1.3f;
  }
  static double c(int j) { return 1.0 + 0.5 * j; }
  LossFunction loss() const {
    return [](const std::vector<const Tensor *> &p) -> Expected<double> {
      double sum = 0;
      for (int j = 0; j < 6; ++j)
        sum += c(j) * p[0]->f32()[j] * p[0]->f32()[j];
      sum += std::sin(p[1]->f32()[0]) * p[1]->f32()[1];
      return static_cast<double>(static_cast<float>(sum));
    };
  }
  // The true gradient, with the bias gradient scaled by `biasScale`.
  std::vector<Tensor> gradient(double biasScale) const {
    std::vector<Tensor> g{Tensor(DType::F32, {2, 3}), Tensor(DType::F32, {2})};
    for (int j = 0; j < 6; ++j)
      g[0].f32()[j] = static_cast<float>(2 * c(j) * a.f32()[j]);
    g[1].f32()[0] =
        static_cast<float>(biasScale * std::cos(b.f32()[0]) * b.f32()[1]);
    g[1].f32()[1] = static_cast<float>(biasScale * std::sin(b.f32()[0]));
    return g;
  }
  Expected<std::vector<ParameterGradientCheck>>
  check(const std::vector<Tensor> &g, std::vector<bool> checked = {true, true},
        GradientCheckOptions options = {}) const {
    return checkGradients(specs, {&a, &b}, checked, {&g[0], &g[1]}, loss(),
                          options);
  }
};

TEST(GradientCheckTest, TheTrueGradientMatchesToFloat32Precision) {
  SmoothFunction f;
  std::vector<Tensor> g = f.gradient(1.0);
  Expected<std::vector<ParameterGradientCheck>> r = f.check(g);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "a.weight");
  EXPECT_EQ((*r)[0].shape, (Shape{2, 3}));
  EXPECT_EQ((*r)[0].errors.size(), 3u);
  for (const ParameterGradientCheck &p : *r)
    EXPECT_LT(p.worstError, 1e-3) << p.name;
  double norm = 0;
  for (int j = 0; j < 6; ++j)
    norm += double(g[0].f32()[j]) * g[0].f32()[j];
  EXPECT_NEAR((*r)[0].gradientNorm, std::sqrt(norm), 1e-12);
}

TEST(GradientCheckTest, AWrongGradientIsCaughtInEveryDirection) {
  SmoothFunction f;
  Expected<std::vector<ParameterGradientCheck>> r = f.check(f.gradient(1.5));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_LT((*r)[0].worstError, 1e-3);
  // Along the (wrong) gradient itself the analytic change is 1.5 times the
  // true one: error 1/3 at every step.
  ASSERT_EQ((*r)[1].errors.size(), 3u);
  EXPECT_NEAR((*r)[1].errors[0], 1.0 / 3.0, 1e-2);
  for (double e : (*r)[1].errors)
    EXPECT_GT(e, 0.2);
}

TEST(GradientCheckTest, ChecksOnlyTheCheckedParametersAndPassesLossErrorsOn) {
  SmoothFunction f;
  std::vector<Tensor> g = f.gradient(1.0);
  GradientCheckOptions one;
  one.directions = 1;
  Expected<std::vector<ParameterGradientCheck>> r =
      f.check(g, {false, true}, one);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "b.bias");
  EXPECT_EQ((*r)[0].errors.size(), 1u);

  int calls = 0;
  LossFunction failing =
      [&](const std::vector<const Tensor *> &) -> Expected<double> {
    if (++calls > 2)
      return Error("the library failed");
    return 1.0;
  };
  Expected<std::vector<ParameterGradientCheck>> failed =
      checkGradients(f.specs, {&f.a, &f.b}, {true, true}, {&g[0], &g[1]},
                     failing, GradientCheckOptions{});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.message(), "the library failed");
}

TEST(GradientCheckTest, NonFiniteLossesAndGradientsAreNeverAMatch) {
  SmoothFunction f;
  std::vector<Tensor> g = f.gradient(1.0);
  LossFunction nanAtStart = [](const std::vector<const Tensor *> &) {
    return Expected<double>(std::nan(""));
  };
  Expected<std::vector<ParameterGradientCheck>> r =
      checkGradients(f.specs, {&f.a, &f.b}, {true, true}, {&g[0], &g[1]},
                     nanAtStart, GradientCheckOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("the loss is nan"), std::string::npos)
      << r.message();
  // A NaN away from the start: that direction's error is infinite.
  int calls = 0;
  LossFunction nanLater = [&](const std::vector<const Tensor *> &) {
    return Expected<double>(++calls == 1 ? 1.0 : std::nan(""));
  };
  r = checkGradients(f.specs, {&f.a, &f.b}, {true, true}, {&g[0], &g[1]},
                     nanLater, GradientCheckOptions{});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(std::isinf((*r)[0].worstError));
  g[1].f32()[0] = std::numeric_limits<float>::infinity();
  r = f.check(g);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("the gradient of 'b.bias'"), std::string::npos);
}

TEST(GradientCheckTest, AZeroGradientOfAConstantLossHasNoError) {
  SmoothFunction f;
  std::vector<Tensor> zero{Tensor(DType::F32, {2, 3}), Tensor(DType::F32, {2})};
  LossFunction constant = [](const std::vector<const Tensor *> &) {
    return Expected<double>(2.5);
  };
  Expected<std::vector<ParameterGradientCheck>> r =
      checkGradients(f.specs, {&f.a, &f.b}, {true, true}, {&zero[0], &zero[1]},
                     constant, GradientCheckOptions{});
  ASSERT_TRUE(r.ok()) << r.message();
  for (const ParameterGradientCheck &p : *r) {
    EXPECT_EQ(p.gradientNorm, 0.0);
    EXPECT_EQ(p.worstError, 0.0);
  }
}

class CheckGradCommandTest : public test::TempDirTest {
protected:
  static CommandResult run(const std::vector<std::string> &args) {
    std::ostringstream out, err;
    int code = runCheckGradCommand(args, out, err, CompilerHooks{});
    return {code, out.str(), err.str()};
  }
};

TEST_F(CheckGradCommandTest, TheTrueGradientsPass) {
  CommandResult r = run({CNNC_FAKE_MODEL, "--batch", "5", "--seed", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "cnnc check-grad: fake_linear, batch 5, loss "))
      << r.out;
  EXPECT_TRUE(contains(r.out, "fc.weight  [3, 8]")) << r.out;
  EXPECT_TRUE(contains(r.out, "fc.bias    [3]")) << r.out;
  EXPECT_TRUE(contains(r.out, "all 2 gradients match finite differences: "
                              "worst relative error "))
      << r.out;
  EXPECT_FALSE(contains(r.out, "FAILED")) << r.out;
}

TEST_F(CheckGradCommandTest, AWrongGradientFailsNamingTheParameter) {
  CommandResult r = run({CNNC_FAKE_MODEL_WRONG_GRADIENT});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "FAILED")) << r.out;
  EXPECT_TRUE(contains(r.err, "cnnc check-grad: error: 1 of 2 gradients differ "
                              "from finite differences by more than the "
                              "tolerance 1e-01: fc.bias (3."))
      << r.err;
  // A tolerance above its error lets it pass.
  EXPECT_EQ(run({CNNC_FAKE_MODEL_WRONG_GRADIENT, "--tolerance", "0.5"}).code,
            0);
}

TEST_F(CheckGradCommandTest, FrozenParametersAreNotChecked) {
  CommandResult r = run({CNNC_FAKE_MODEL_FROZEN, "--directions", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "not checked (frozen): fc.bias")) << r.out;
  EXPECT_TRUE(contains(r.out, "2 directions per parameter")) << r.out;
  EXPECT_TRUE(contains(r.out, "all 1 gradients match")) << r.out;
}

TEST_F(CheckGradCommandTest, StartsFromAWeightsFile) {
  TensorMap w;
  Tensor weight(DType::F32, {3, 8}), bias(DType::F32, {3});
  for (int j = 0; j < 24; ++j)
    weight.f32()[j] = 0.05f * static_cast<float>(j % 7) - 0.1f;
  w.emplace("fc.weight", std::move(weight));
  w.emplace("fc.bias", std::move(bias));
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), w).ok());
  CommandResult r = run({CNNC_FAKE_MODEL, "--weights", path("w.safetensors")});
  ASSERT_EQ(r.code, 0) << r.err;
  // A file that does not fit is reported as `cnnc run` reports it.
  w.erase("fc.bias");
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), w).ok());
  r = run({CNNC_FAKE_MODEL, "--weights", path("w.safetensors")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "fc.bias")) << r.err;
}

TEST_F(CheckGradCommandTest, BadArgumentsAreReportedWithTheUsage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case &c : std::vector<Case>{
           {{}, "expected a network (NET.yaml) or a model library (NET.so)"},
           {{CNNC_FAKE_MODEL, "--weights", "w", "--seed", "1"},
            "--weights and --seed exclude each other"},
           {{CNNC_FAKE_MODEL, "--batch", "0"}, "--batch"},
           {{CNNC_FAKE_MODEL, "--tolerance", "0"}, "--tolerance"},
           {{CNNC_FAKE_MODEL, "--directions", "x"}, "--directions"},
           {{CNNC_FAKE_MODEL, "--frobnicate"}, "--frobnicate"}}) {
    CommandResult r = run(c.args);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.err, "cnnc check-grad: error: ")) << r.err;
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
    EXPECT_TRUE(contains(r.err, "usage: cnnc check-grad")) << r.err;
  }
  CommandResult missing = run({path("missing.so")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "missing.so")) << missing.err;
  CommandResult help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "usage: cnnc check-grad")) << help.out;
}

} // namespace
} // namespace cnnc::rt
