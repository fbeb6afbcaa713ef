// Loading model libraries through the C ABI, against the hand-written fake
// (fake_model.c: input [N, 2, 2, 2] -> linear 8 -> 3).
#include "TestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/model_abi.h"

#include <dlfcn.h>
#include <filesystem>
#include <unistd.h>

namespace cnnc::rt {
namespace {

using test::writeBytes;

// fc.weight[o][i] = o + i / 10, fc.bias[o] = 100 * o.
struct FakeParams {
  Tensor weight{DType::F32, {3, 8}}, bias{DType::F32, {3}};
  FakeParams() {
    for (int o = 0; o < 3; ++o) {
      bias.f32()[o] = 100.0f * o;
      for (int i = 0; i < 8; ++i)
        weight.f32()[o * 8 + i] =
            static_cast<float>(o) + 0.1f * static_cast<float>(i);
    }
  }
  std::vector<const Tensor *> list() const { return {&weight, &bias}; }
};

// The fake's own variable, reached through the already loaded library.
int32_t fakeNumThreads() {
  void *handle = dlopen(CNNC_FAKE_MODEL, RTLD_NOW | RTLD_NOLOAD);
  if (!handle)
    return -100;
  auto *value = static_cast<int32_t *>(dlsym(handle, "fake_num_threads"));
  int32_t result = value ? *value : -200;
  dlclose(handle);
  return result;
}

class ModelLibraryTest : public test::TempDirTest {};

TEST_F(ModelLibraryTest, ReadsWhatTheLibraryWasBuiltFor) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_TRUE(m->libraryInfo());
  EXPECT_EQ(m->libraryInfo()->target, "fake");
  EXPECT_EQ(m->libraryInfo()->device, "cpu");
  EXPECT_FALSE(m->libraryInfo()->onGpu());
  EXPECT_EQ(m->libraryInfo()->forwardFlopsPerSample, 12);
  EXPECT_EQ(m->libraryInfo()->trainStepFlopsPerSample, 36);
  // The fake's JSON has no "train_step", as libraries built before it:
  // their trainable networks have a step (tests/lit/cli/inference-only.yaml
  // checks libraries that say they have none).
  EXPECT_TRUE(m->libraryInfo()->trainStep);
  EXPECT_TRUE(m->hasTrainStep());
  EXPECT_TRUE(m->checkTrainStep().ok());
}

TEST_F(ModelLibraryTest, QueriesNameShapesAndParameters) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->abiVersion(), static_cast<uint32_t>(CNNC_ABI_VERSION));
  EXPECT_EQ(m->name(), "fake_linear");
  EXPECT_EQ(m->inputShape(), (Shape{-1, 2, 2, 2}));
  EXPECT_EQ(m->outputShape(), (Shape{-1, 3}));
  ASSERT_EQ(m->parameters().size(), 2u);
  EXPECT_EQ(m->parameters()[0].name, "fc.weight");
  EXPECT_EQ(m->parameters()[0].shape, (Shape{3, 8}));
  EXPECT_EQ(m->parameters()[1].name, "fc.bias");
  EXPECT_EQ(m->parameters()[1].shape, (Shape{3}));
}

TEST_F(ModelLibraryTest, ForwardComputesTheLogits) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  FakeParams p;
  Tensor x(DType::F32, {2, 2, 2, 2});
  for (int i = 0; i < 16; ++i)
    x.f32()[i] = i < 8 ? 1.0f : static_cast<float>(i - 8);
  Expected<Tensor> y = m->forward(x, p.list());
  ASSERT_TRUE(y.ok()) << y.message();
  ASSERT_EQ(y->shape(), (Shape{2, 3}));
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 3; ++o) {
      double expected = 100.0 * o;
      for (int i = 0; i < 8; ++i)
        expected += x.f32()[n * 8 + i] * (o + 0.1 * i);
      EXPECT_NEAR(y->f32()[n * 3 + o], expected, 1e-4) << n << "," << o;
    }
}

TEST_F(ModelLibraryTest, SetNumThreadsReachesTheLibrary) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_TRUE(m->setNumThreads(3).ok());
  EXPECT_EQ(fakeNumThreads(), 3);
  EXPECT_ERROR_CONTAINS(m->setNumThreads(-2),
                        "the number of threads must be 0 or more");
  EXPECT_EQ(fakeNumThreads(), 3);
}

TEST_F(ModelLibraryTest, LoadsARelativePathFromTheCurrentDirectory) {
  // "name.so" without a '/' must not make dlopen search the library path.
  std::filesystem::copy_file(CNNC_FAKE_MODEL, path("net.so"));
  std::filesystem::path old = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  Expected<ModelLibrary> m = ModelLibrary::load("net.so");
  std::filesystem::current_path(old);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->path(), "net.so");
  EXPECT_EQ(m->name(), "fake_linear");
}

TEST_F(ModelLibraryTest, ReportsMissingFileAndNonLibraries) {
  EXPECT_ERROR_CONTAINS(ModelLibrary::load(path("absent.so")),
                        "absent.so: no such file");
  writeBytes(path("text.so"), "this is not an ELF file\n");
  EXPECT_ERROR_CONTAINS(ModelLibrary::load(path("text.so")),
                        "text.so: cannot load it as a shared library");
  EXPECT_ERROR_CONTAINS(ModelLibrary::load(dir_.string()),
                        "not a regular file");
}

TEST_F(ModelLibraryTest, ReportsAbiMismatchAndMissingSymbols) {
  EXPECT_ERROR_CONTAINS(
      ModelLibrary::load(CNNC_FAKE_MODEL_ABI99),
      "built for cnnc ABI version 99 but this cnnc uses version " +
          std::to_string(CNNC_ABI_VERSION));
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL_NO_FORWARD);
  EXPECT_ERROR_CONTAINS(
      m, "not a cnnc model library: it has no symbol cnnc_forward");
  EXPECT_ERROR_CONTAINS(m, CNNC_FAKE_MODEL_NO_FORWARD);
}

TEST_F(ModelLibraryTest, ForwardChecksShapesBeforeCalling) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  FakeParams p;
  EXPECT_ERROR_CONTAINS(
      m->forward(Tensor(DType::F32, {1, 2, 2, 3}), p.list()),
      "the input has shape [1, 2, 2, 3] but the network 'fake_linear' "
      "takes [N, 2, 2, 2]");
  EXPECT_ERROR_CONTAINS(m->forward(Tensor(DType::F32, {2, 2, 2}), p.list()),
                        "takes [N, 2, 2, 2]");
  EXPECT_ERROR_CONTAINS(m->forward(Tensor(DType::I64, {1, 2, 2, 2}), p.list()),
                        "the input must be float32");
  EXPECT_ERROR_CONTAINS(m->forward(Tensor(DType::F32, {0, 2, 2, 2}), p.list()),
                        "the input holds no samples");
  Tensor x(DType::F32, {1, 2, 2, 2});
  EXPECT_ERROR_CONTAINS(m->forward(x, {&p.weight}),
                        "the network takes 2 parameters, not 1");
  EXPECT_ERROR_CONTAINS(m->forward(x, {&p.weight, nullptr}),
                        "parameter 'fc.bias' is missing (null)");
  EXPECT_ERROR_CONTAINS(
      m->forward(x, {&p.bias, &p.weight}),
      "parameter 'fc.weight' is F32 [3] but the network expects F32 [3, 8]");
}

TEST_F(ModelLibraryTest, NullPointersThroughTheAbiAreReportedNotFatal) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  FakeParams p;
  const float *params[2] = {p.weight.f32(), p.bias.f32()};
  const float *halfParams[2] = {p.weight.f32(), nullptr};
  float x[8] = {}, y[3] = {};
  std::string prefix = std::string(CNNC_FAKE_MODEL) + ": cnnc_forward failed: ";
  EXPECT_ERROR_CONTAINS(m->forwardRaw(1, nullptr, params, y),
                        prefix + "a required pointer was NULL");
  EXPECT_ERROR_CONTAINS(m->forwardRaw(1, x, nullptr, y),
                        prefix + "a required pointer was NULL");
  EXPECT_ERROR_CONTAINS(m->forwardRaw(1, x, halfParams, y),
                        "a required pointer was NULL");
  EXPECT_ERROR_CONTAINS(m->forwardRaw(1, x, params, nullptr),
                        "a required pointer was NULL");
  EXPECT_ERROR_CONTAINS(m->forwardRaw(0, x, params, y),
                        prefix + "a batch size or a shape does not fit");
  EXPECT_TRUE(m->forwardRaw(1, x, params, y).ok());
  EXPECT_EQ(y[2], 200.0f); // zero input: the bias

  // The query functions of the ABI reject NULL and small arrays as well.
  void *handle = dlopen(CNNC_FAKE_MODEL, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  auto inputShape =
      reinterpret_cast<cnnc_status (*)(int64_t *, int32_t, int32_t *)>(
          dlsym(handle, "cnnc_input_shape"));
  dlclose(handle); // `m` keeps the library loaded
  ASSERT_NE(inputShape, nullptr);
  int64_t dims[4];
  int32_t rank = 0;
  EXPECT_EQ(inputShape(nullptr, 4, &rank), CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(inputShape(dims, 4, nullptr), CNNC_ERROR_NULL_ARGUMENT);
  EXPECT_EQ(inputShape(dims, 2, &rank), CNNC_ERROR_BAD_CAPACITY);
}

TEST_F(ModelLibraryTest, MovedLibraryStaysUsable) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  ModelLibrary moved = std::move(*m);
  FakeParams p;
  Expected<Tensor> y =
      moved.forward(Tensor(DType::F32, {1, 2, 2, 2}), p.list());
  ASSERT_TRUE(y.ok()) << y.message();
  EXPECT_EQ(y->f32()[1], 100.0f);
}

} // namespace
} // namespace cnnc::rt
