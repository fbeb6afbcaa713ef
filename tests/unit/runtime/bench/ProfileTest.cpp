// Grouping Halide's per-Func profiler statistics back into the ops the
// profiled library lists, with GFLOP/s where the FLOPs are known.
#include "cnnc/bench/Profile.h"

#include <gtest/gtest.h>

namespace cnnc::rt::bench {
namespace {

const OpTime *find(const PipelineProfile &p, const std::string &name) {
  for (const OpTime &op : p.ops)
    if (op.name == name)
      return &op;
  return nullptr;
}

TEST(ProfileTest, GroupsFuncsIntoTheLibrarysOps) {
  // The ops a profiled library lists: the Func prefix of each op of both
  // pipelines, its row and its FLOPs per sample.
  std::vector<ProfiledOp> ops = {
      {"conv1", "conv1", "conv2d", 1e6},
      {"relu1", "relu1", "relu", 0},
      {"stage_0_fc", "stage.0.fc", "linear", 2e5},
      {"fc", "fc", "linear", 1e3},
      {"conv1_conv2d_weight_grad", "conv1 conv2d_weight_grad",
       "conv2d_weight_grad", 1e6},
      {"conv1_conv2d_input_grad", "conv1 conv2d_input_grad",
       "conv2d_input_grad", 1e6},
      {"conv1_weight", "conv1.weight", "parameter", 0},
      {"conv1_weight_sgd", "conv1 sgd_update", "sgd_update", 0},
      {"relu1_relu_grad", "relu1 relu_grad", "relu_grad", 0},
      {"bn1_batchnorm2d_input_grad", "bn1 batchnorm2d_input_grad",
       "batchnorm2d_input_grad", 0}};
  // Two calls of each pipeline; seconds are totals over the calls.
  std::vector<FuncTime> funcs = {
      {"forward", "overhead", 0.0002, 2, 100},
      {"forward", "conv1", 0.004, 2, 100},
      {"forward", "conv1_accum$2", 0.004, 2, 100}, // Halide's unique name
      {"forward", "stage_0_fc", 0.002, 2, 100},
      {"forward", "fc", 0.0, 2, 100},
      {"train_step", "conv1_conv2d_weight_grad", 0.01, 2, 300},
      {"train_step", "conv1_conv2d_weight_grad_accum", 0.01, 2, 300},
      {"train_step", "conv1_conv2d_input_grad", 0.004, 2, 300},
      {"train_step", "conv1_weight_sgd", 0.002, 2, 300},
      {"train_step", "conv1_weight_momentum_read", 0.002, 2, 300},
      {"train_step", "relu1_relu_grad", 0.002, 2, 300},
      {"train_step", "bn1_batchnorm2d_input_grad_sums", 0.002, 2, 300},
      {"train_step", "fc1_cross_entropy_grad", 0.002, 2, 300},
  };
  std::vector<PipelineProfile> profile = groupProfile(funcs, ops, 10, 1000.0);
  ASSERT_EQ(profile.size(), 2u);

  const PipelineProfile &forward = profile[0];
  EXPECT_EQ(forward.pipeline, "forward");
  EXPECT_EQ(forward.runs, 2);
  EXPECT_EQ(forward.samples, 100);
  EXPECT_NEAR(forward.msPerCall, 5.1, 1e-9);
  ASSERT_EQ(forward.ops.size(), 4u); // overhead, conv1, stage.0.fc, fc
  const OpTime *conv = find(forward, "conv1");
  ASSERT_TRUE(conv);
  EXPECT_NEAR(conv->ms, 4.0, 1e-9); // conv1 and conv1_accum
  EXPECT_NEAR(conv->percent, 100 * 4.0 / 5.1, 1e-9);
  ASSERT_TRUE(conv->gflops);
  EXPECT_NEAR(*conv->gflops, 1e6 * 10 / 4e-3 * 1e-9, 1e-9); // 2.5 GFLOP/s
  ASSERT_TRUE(conv->peakPercent);
  EXPECT_NEAR(*conv->peakPercent, 0.25, 1e-9);
  const OpTime *fc0 =
      find(forward, "stage.0.fc"); // named back, not "stage_0_fc"
  ASSERT_TRUE(fc0);
  EXPECT_TRUE(fc0->gflops);
  const OpTime *fc = find(forward, "fc");
  ASSERT_TRUE(fc);
  EXPECT_FALSE(fc->gflops); // no time, no rate
  EXPECT_TRUE(find(forward, "overhead"));

  const PipelineProfile &train = profile[1];
  EXPECT_EQ(train.pipeline, "train_step");
  const OpTime *wgrad = find(train, "conv1 conv2d_weight_grad");
  ASSERT_TRUE(wgrad);
  EXPECT_NEAR(wgrad->ms, 10.0, 1e-9);
  ASSERT_TRUE(wgrad->gflops);
  EXPECT_NEAR(*wgrad->gflops, 1.0, 1e-9);
  const OpTime *igrad = find(train, "conv1 conv2d_input_grad");
  ASSERT_TRUE(igrad);
  EXPECT_TRUE(igrad->gflops);
  // The longest prefix wins: the update, not the parameter or the layer.
  const OpTime *sgd = find(train, "conv1 sgd_update");
  ASSERT_TRUE(sgd);
  EXPECT_NEAR(sgd->ms, 1.0, 1e-9);
  EXPECT_FALSE(sgd->gflops);
  EXPECT_TRUE(find(train, "conv1.weight")); // the momentum read
  const OpTime *relu = find(train, "relu1 relu_grad");
  ASSERT_TRUE(relu);
  EXPECT_FALSE(relu->gflops);
  EXPECT_TRUE(find(train, "bn1 batchnorm2d_input_grad"));
  // "fc1" is no op ("fc" + "1" is not "fc_..."): the Func keeps its name.
  EXPECT_TRUE(find(train, "fc1_cross_entropy_grad"));
}

TEST(ProfileTest, PipelinesThatDidNotRunAreLeftOut) {
  std::vector<FuncTime> funcs = {{"forward", "conv1", 0.001, 1, 5},
                                 {"train_step", "conv1", 0.0, 0, 0}};
  std::vector<PipelineProfile> profile = groupProfile(funcs, {}, 1, 0.0);
  ASSERT_EQ(profile.size(), 1u);
  EXPECT_EQ(profile[0].pipeline, "forward");
  ASSERT_EQ(profile[0].ops.size(), 1u);
  EXPECT_EQ(profile[0].ops[0].name, "conv1");
  EXPECT_NEAR(profile[0].ops[0].percent, 100.0, 1e-9);
}

} // namespace
} // namespace cnnc::rt::bench
