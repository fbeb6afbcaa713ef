// Checking a weights file against a network's parameters.
#include "TestUtil.h"

#include "cnnc/BatchCounters.h"
#include "cnnc/ParameterCheck.h"

namespace cnnc::rt {
namespace {

const std::vector<ParameterSpec> kSpecs = {{"conv1.weight", {6, 1, 5, 5}},
                                           {"conv1.bias", {6}},
                                           {"fc3.weight", {10, 84}},
                                           {"fc3.bias", {10}}};

TensorMap exact() {
  TensorMap m;
  for (const ParameterSpec &s : kSpecs)
    m.emplace(s.name, Tensor(DType::F32, s.shape));
  return m;
}

TEST(ParameterCheckTest, ReturnsTensorsInParameterOrder) {
  TensorMap m = exact(); // sorted by name: conv1.bias before conv1.weight
  Expected<std::vector<const Tensor *>> ordered =
      matchParameters(kSpecs, m, "w.safetensors");
  ASSERT_TRUE(ordered.ok()) << ordered.message();
  ASSERT_EQ(ordered->size(), 4u);
  for (size_t i = 0; i < kSpecs.size(); ++i)
    EXPECT_EQ((*ordered)[i], &m.at(kSpecs[i].name)) << kSpecs[i].name;
}

TEST(ParameterCheckTest, ReportsEveryProblemAtOnce) {
  TensorMap m = exact();
  m.erase("fc3.bias");
  m["conv1.weight"] = Tensor(DType::F32, {6, 3, 5, 5});
  m["conv1.bias"] = Tensor(DType::I64, {6});
  m.emplace("head.weight", Tensor(DType::F32, {2, 84}));
  Expected<std::vector<const Tensor *>> r =
      matchParameters(kSpecs, m, "w.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.message(),
      "w.safetensors: tensor 'conv1.weight' has shape [6, 3, 5, 5] but the "
      "network "
      "expects [6, 1, 5, 5]\n"
      "w.safetensors: tensor 'conv1.bias' has dtype I64 but the network "
      "expects F32\n"
      "w.safetensors: tensor 'fc3.bias' is missing (the network expects [10])\n"
      "w.safetensors: unexpected tensor 'head.weight' ([2, 84]); the network "
      "has no "
      "such parameter");
}

TEST(ParameterCheckTest, InitialWeightsSkipTheReplacedHead) {
  // A backbone's file with a 1000-class head for a 10-class network: the
  // skipped head is left to initialisation, whatever its shape in the file.
  TensorMap m = exact();
  m["fc3.weight"] = Tensor(DType::F32, {1000, 84});
  m["fc3.bias"] = Tensor(DType::F32, {1000});
  Expected<std::vector<const Tensor *>> r =
      matchInitialWeights(kSpecs, m, "w.safetensors", {"fc3.*"});
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0], &m.at("conv1.weight"));
  EXPECT_EQ((*r)[1], &m.at("conv1.bias"));
  EXPECT_EQ((*r)[2], nullptr);
  EXPECT_EQ((*r)[3], nullptr);

  // Without the skip, the mismatch names the tensor and suggests the flag.
  Expected<std::vector<const Tensor *>> strict =
      matchInitialWeights(kSpecs, m, "w.safetensors", {});
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(
      strict.message(),
      "w.safetensors: tensor 'fc3.weight' has shape [1000, 84] but the network "
      "expects "
      "[10, 84]; to start it anew instead, skip it (--skip 'fc3.weight')\n"
      "w.safetensors: tensor 'fc3.bias' has shape [1000] but the network "
      "expects [10]; "
      "to start it anew instead, skip it (--skip 'fc3.bias')");
}

TEST(ParameterCheckTest,
     InitialWeightsReportUnusedSkipPatternsAndExtraTensors) {
  TensorMap m = exact();
  m.erase("fc3.bias");
  m.emplace("head.weight", Tensor(DType::F32, {2, 84}));
  Expected<std::vector<const Tensor *>> r =
      matchInitialWeights(kSpecs, m, "w.safetensors", {"fc3.bias", "fc9.*"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "w.safetensors: unexpected tensor 'head.weight' ([2, "
                         "84]); the network has no "
                         "such parameter\n"
                         "w.safetensors: --skip pattern 'fc9.*' matches no "
                         "parameter of the network and no "
                         "tensor of the file");
}

// torchvision state_dicts hold each batch norm's num_batches_tracked: it
// loads without renaming, but only next to that batch norm's buffers.
TEST(ParameterCheckTest, AcceptsBatchNormCountersOfItsBatchNorms) {
  const std::vector<ParameterSpec> specs = {{"bn1.weight", {4}},
                                            {"bn1.bias", {4}},
                                            {"bn1.running_mean", {4}},
                                            {"bn1.running_var", {4}}};
  TensorMap m;
  for (const ParameterSpec &s : specs)
    m.emplace(s.name, Tensor(DType::F32, s.shape));
  m.emplace("bn1.num_batches_tracked", Tensor(DType::I64, {}));
  Expected<std::vector<const Tensor *>> r =
      matchParameters(specs, m, "w.safetensors");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->size(), 4u);
  m.emplace("bn2.num_batches_tracked", Tensor(DType::I64, {}));
  r = matchParameters(specs, m, "w.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "w.safetensors: unexpected tensor 'bn2.num_batches_tracked' ([]); "
            "the network has no such parameter");
}

TEST(BatchCountersTest, NamesAndSavedCounts) {
  EXPECT_EQ(batchCounterName("layer1.0.bn1.running_mean"),
            "layer1.0.bn1.num_batches_tracked");
  EXPECT_EQ(batchCounterName("bn1.running_var"), "");
  EXPECT_EQ(batchCounterName(".running_mean"), "");
  EXPECT_TRUE(
      isBatchCounter("bn.num_batches_tracked", {{"bn.running_mean", {2}}}));
  EXPECT_FALSE(isBatchCounter("bn.num_batches_tracked", {{"bn.weight", {2}}}));

  BatchCounters counters{{"a.num_batches_tracked", "b.num_batches_tracked"},
                         {5, 7},
                         {true, false}};
  TensorMap m;
  addBatchCounters(m, counters, 3);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("a.num_batches_tracked").dtype(), DType::I64);
  EXPECT_EQ(m.at("a.num_batches_tracked").shape(), Shape{});
  EXPECT_EQ(m.at("a.num_batches_tracked").i64()[0], 8); // counted
  EXPECT_EQ(m.at("b.num_batches_tracked").i64()[0], 7); // not updated
}

} // namespace
} // namespace cnnc::rt
