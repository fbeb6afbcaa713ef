// `cnnc init` and `cnnc run` end to end against the fake model library.
#include "TestUtil.h"

#include "cnnc/Commands.h"
#include "cnnc/Npy.h"
#include "cnnc/Safetensors.h"

#include <cmath>
#include <dlfcn.h>
#include <filesystem>
#include <limits>
#include <sstream>

namespace cnnc::rt {
namespace {

using test::contains;
using test::readBytes;
using test::writeBytes;

struct Result {
  int code;
  std::string out, err;
};

class CommandsTest : public test::TempDirTest {
protected:
  Result init(const std::vector<std::string> &args) {
    std::ostringstream out, err;
    int code = runInitCommand(args, out, err);
    return {code, out.str(), err.str()};
  }
  Result run(const std::vector<std::string> &args) {
    std::ostringstream out, err;
    int code = runRunCommand(args, out, err);
    return {code, out.str(), err.str()};
  }
  // x.npy: `batch` samples of shape [2, 2, 2] (or one without a batch dim).
  Tensor writeInput(const std::string &name, Shape shape) {
    Tensor x(DType::F32, std::move(shape));
    for (int64_t i = 0; i < x.numElements(); ++i)
      x.f32()[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
    EXPECT_TRUE(writeNpy(path(name), x).ok());
    return x;
  }
  // Runs with the usual files and returns the result for one argument changed.
  std::vector<std::string> runArgs() {
    return {CNNC_FAKE_MODEL, "--weights", path("w.safetensors"), "--input",
            path("x.npy"),   "-o",        path("y.npy")};
  }
};

// y = x W^T + b, computed here from the weights file.
void expectLogits(const Tensor &x, const Tensor &y, const TensorMap &weights) {
  const Tensor &w = weights.at("fc.weight"), &b = weights.at("fc.bias");
  int64_t n = y.shape()[0];
  for (int64_t s = 0; s < n; ++s)
    for (int o = 0; o < 3; ++o) {
      double expected = b.f32()[o];
      for (int i = 0; i < 8; ++i)
        expected +=
            static_cast<double>(x.f32()[s * 8 + i]) * w.f32()[o * 8 + i];
      EXPECT_NEAR(y.f32()[s * 3 + o], expected, 1e-5)
          << "sample " << s << " class " << o;
    }
}

TEST_F(CommandsTest, InitThenRunEndToEnd) {
  Result i =
      init({CNNC_FAKE_MODEL, "-o", path("w.safetensors"), "--seed", "7"});
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(i.out, "wrote " + path("w.safetensors") +
                       ": 2 tensors, 27 parameters (seed 7)\n");
  EXPECT_EQ(i.err, "");

  Expected<SafetensorsFile> weights = readSafetensors(path("w.safetensors"));
  ASSERT_TRUE(weights.ok()) << weights.message();
  EXPECT_EQ(weights->tensors.at("fc.weight").shape(), (Shape{3, 8}));
  EXPECT_EQ(weights->tensors.at("fc.bias").shape(), (Shape{3}));
  EXPECT_EQ(weights->metadata.at("network"), "fake_linear");
  EXPECT_EQ(weights->metadata.at("seed"), "7");
  for (int k = 0; k < 24; ++k) // U(-1/sqrt(8), 1/sqrt(8))
    EXPECT_LT(std::abs(weights->tensors.at("fc.weight").f32()[k]), 0.35356f);

  Tensor x = writeInput("x.npy", {4, 2, 2, 2});
  Result r = run(runArgs());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote " + path("y.npy") + ": [4, 3]\n");
  Expected<Tensor> y = readNpy(path("y.npy"));
  ASSERT_TRUE(y.ok()) << y.message();
  ASSERT_EQ(y->shape(), (Shape{4, 3}));
  expectLogits(x, *y, weights->tensors);
}

TEST_F(CommandsTest, RunAcceptsOneSampleWithoutBatchDimAndThreads) {
  // Hold the fake loaded so its fake_num_threads outlives the command's
  // dlclose.
  void *handle = dlopen(CNNC_FAKE_MODEL, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto *threads = static_cast<int32_t *>(dlsym(handle, "fake_num_threads"));
  ASSERT_NE(threads, nullptr);
  *threads = -1;

  ASSERT_EQ(init({CNNC_FAKE_MODEL, "--output=" + path("w.safetensors")}).code,
            0);
  Tensor x = writeInput("x.npy", {2, 2, 2});
  std::vector<std::string> args = runArgs();
  args.insert(args.end(), {"--threads", "2"});
  Result r = run(args);
  ASSERT_EQ(r.code, 0) << r.err;
  Expected<Tensor> y = readNpy(path("y.npy"));
  ASSERT_TRUE(y.ok()) << y.message();
  ASSERT_EQ(y->shape(), (Shape{1, 3}));
  expectLogits(x, *y, readSafetensors(path("w.safetensors"))->tensors);
  EXPECT_EQ(*threads, 2);
  dlclose(handle);
}

TEST_F(CommandsTest, InitIsDeterministicBySeed) {
  ASSERT_EQ(
      init({CNNC_FAKE_MODEL, "-o", path("a.safetensors"), "--seed", "5"}).code,
      0);
  ASSERT_EQ(
      init({CNNC_FAKE_MODEL, "-o", path("b.safetensors"), "--seed", "5"}).code,
      0);
  ASSERT_EQ(
      init({CNNC_FAKE_MODEL, "-o", path("c.safetensors"), "--seed", "6"}).code,
      0);
  EXPECT_EQ(readBytes(path("a.safetensors")), readBytes(path("b.safetensors")));
  Expected<SafetensorsFile> a = readSafetensors(path("a.safetensors"));
  Expected<SafetensorsFile> c = readSafetensors(path("c.safetensors"));
  ASSERT_TRUE(a.ok() && c.ok());
  EXPECT_NE(a->tensors.at("fc.weight").f32()[0],
            c->tensors.at("fc.weight").f32()[0]);
}

TEST_F(CommandsTest, HelpPrintsUsage) {
  Result i = init({"--help"});
  EXPECT_EQ(i.code, 0);
  EXPECT_TRUE(contains(
      i.out, "usage: cnnc init NET.so -o WEIGHTS.safetensors [--seed N]"));
  Result r = run({"-h"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "usage: cnnc run NET.so --weights"));
}

TEST_F(CommandsTest, UsageErrors) {
  struct Case {
    bool isInit;
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {true, {}, "cnnc init: error: expected one model library (NET.so)"},
      {true,
       {CNNC_FAKE_MODEL},
       "cnnc init: error: missing -o WEIGHTS.safetensors"},
      {true,
       {CNNC_FAKE_MODEL, "-o"},
       "cnnc init: error: option '-o' needs a value"},
      {true,
       {CNNC_FAKE_MODEL, "-o", "w", "--sed", "1"},
       "cnnc init: error: unknown option '--sed'"},
      {true,
       {CNNC_FAKE_MODEL, "-o", "w", "--seed", "-1"},
       "cnnc init: error: option '--seed' needs a non-negative integer, not "
       "'-1'"},
      {true,
       {CNNC_FAKE_MODEL, "-o", "a", "--output", "b"},
       "cnnc init: error: option '--output' is given twice"},
      {false,
       {CNNC_FAKE_MODEL, "--input", "x.npy", "-o", "y.npy"},
       "cnnc run: error: missing --weights"},
      {false,
       {CNNC_FAKE_MODEL, "--weights", "w", "--input", "x", "-o", "y",
        "--threads", "two"},
       "cnnc run: error: option '--threads' needs an integer from 0 to "
       "2147483647, not 'two'"},
  };
  for (const Case &c : cases) {
    Result r = c.isInit ? init(c.args) : run(c.args);
    EXPECT_EQ(r.code, 1) << c.message;
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists("w"));
}

TEST_F(CommandsTest, InitReportsBadLibraries) {
  Result missing = init({path("absent.so"), "-o", path("w.safetensors")});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err,
            "cnnc init: error: " + path("absent.so") + ": no such file\n");
  writeBytes(path("fake.so"), "not a library");
  Result notLib = init({path("fake.so"), "-o", path("w.safetensors")});
  EXPECT_EQ(notLib.code, 1);
  EXPECT_TRUE(contains(notLib.err, path("fake.so") +
                                       ": cannot load it as a shared library"));
  EXPECT_FALSE(std::filesystem::exists(path("w.safetensors")));
}

TEST_F(CommandsTest, RunRejectsWeightsOfAnotherNetwork) {
  TensorMap other;
  other.emplace("fc.weight", Tensor(DType::F32, {3, 4}));
  other.emplace("fc2.bias", Tensor(DType::F32, {3}));
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), other).ok());
  writeInput("x.npy", {1, 2, 2, 2});
  Result r = run(runArgs());
  EXPECT_EQ(r.code, 1);
  std::string w = path("w.safetensors");
  EXPECT_EQ(r.err,
            "cnnc run: error: " + w +
                ": tensor 'fc.weight' has shape [3, 4] but the network expects "
                "[3, 8]\n"
                "cnnc run: error: " +
                w +
                ": tensor 'fc.bias' is missing (the network expects [3])\n"
                "cnnc run: error: " +
                w +
                ": unexpected tensor 'fc2.bias' ([3]); the network has no such "
                "parameter\n");
  EXPECT_FALSE(std::filesystem::exists(path("y.npy")));
}

TEST_F(CommandsTest, RunRejectsBadInputs) {
  ASSERT_EQ(init({CNNC_FAKE_MODEL, "-o", path("w.safetensors")}).code, 0);

  writeInput("x.npy", {1, 2, 4});
  Result shape = run(runArgs());
  EXPECT_EQ(shape.code, 1);
  EXPECT_TRUE(
      contains(shape.err, "cnnc run: error: " + path("x.npy") +
                              ": shape [1, 2, 4] does not fit the network "
                              "'fake_linear', which takes [N, 2, 2, 2] (or one "
                              "sample [2, 2, 2])"))
      << shape.err;

  Tensor labels(DType::I64, {1, 2, 2, 2});
  ASSERT_TRUE(writeNpy(path("x.npy"), labels).ok());
  Result dtype = run(runArgs());
  EXPECT_EQ(dtype.code, 1);
  EXPECT_TRUE(contains(dtype.err, "the network takes float32 samples, not I64"))
      << dtype.err;

  writeInput("x.npy", {0, 2, 2, 2});
  Result empty = run(runArgs());
  EXPECT_EQ(empty.code, 1);
  EXPECT_TRUE(contains(empty.err, "holds no samples")) << empty.err;

  std::filesystem::remove(path("x.npy"));
  Result missing = run(runArgs());
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, path("x.npy") + ": no such file"))
      << missing.err;
  EXPECT_FALSE(std::filesystem::exists(path("y.npy")));
}

// NaN in, NaN out: the run succeeds, and says which input and which
// weights were not finite.
TEST_F(CommandsTest, RunWarnsAboutNonFiniteInputsAndWeights) {
  ASSERT_EQ(init({CNNC_FAKE_MODEL, "-o", path("w.safetensors")}).code, 0);
  TensorMap weights = readSafetensors(path("w.safetensors"))->tensors;
  weights.at("fc.weight").f32()[1 * 8 + 5] =
      std::numeric_limits<float>::infinity();
  ASSERT_TRUE(writeSafetensors(path("w.safetensors"), weights).ok());
  Tensor x(DType::F32, {3, 2, 2, 2});
  x.f32()[2 * 8 + 6] = std::numeric_limits<float>::quiet_NaN();
  x.f32()[2 * 8 + 7] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(writeNpy(path("x.npy"), x).ok());

  Result r = run(runArgs());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "cnnc run: warning: " + path("w.safetensors") +
                                  ": tensor 'fc.weight' holds 1 infinite "
                                  "value, the first at [1, 5]"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "cnnc run: warning: " + path("x.npy") +
                                  ": the input holds 2 NaN values, the first "
                                  "at [2, 1, 1, 0]"))
      << r.err;
  Expected<Tensor> y = readNpy(path("y.npy"));
  ASSERT_TRUE(y.ok()) << y.message();
  EXPECT_TRUE(std::isnan(y->f32()[2 * 3]));

  // Finite files: no warning.
  ASSERT_EQ(init({CNNC_FAKE_MODEL, "-o", path("w.safetensors")}).code, 0);
  writeInput("x.npy", {3, 2, 2, 2});
  r = run(runArgs());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(CommandsTest, RunReportsMissingOrCorruptWeights) {
  writeInput("x.npy", {1, 2, 2, 2});
  Result missing = run(runArgs());
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, path("w.safetensors") + ": no such file"))
      << missing.err;
  writeBytes(path("w.safetensors"), "garbage!garbage!");
  Result corrupt = run(runArgs());
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_TRUE(contains(corrupt.err,
                       path("w.safetensors") + ": safetensors header length"))
      << corrupt.err;
}

} // namespace
} // namespace cnnc::rt
