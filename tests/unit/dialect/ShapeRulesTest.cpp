// The shape rules on their own: the lecture's arithmetic and every error.
#include "cnn/ShapeRules.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace cnn::shape;

namespace {
constexpr int64_t D = kDynamic;

TEST(ConvOutputSize, LectureFormula) {
  // (H - k + 2p) / s + 1
  EXPECT_EQ(convOutputSize(32, 5, 1, 0, 1), 28);
  EXPECT_EQ(convOutputSize(28, 5, 1, 2, 1), 28);
  EXPECT_EQ(convOutputSize(224, 7, 2, 3, 1), 112);
  EXPECT_EQ(convOutputSize(7, 3, 2, 0, 1), 3);  // floor
  EXPECT_EQ(convOutputSize(10, 3, 1, 0, 2), 6); // dilation spans 5
  EXPECT_EQ(convOutputSize(D, 3, 1, 0, 1), D);
}

TEST(Conv2d, InfersShapeWithDynamicBatch) {
  ShapeResult r = conv2d({D, 3, 32, 32}, {6, 3, 5, 5}, Shape{6}, {});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.shape, (Shape{D, 6, 28, 28}));
}

TEST(Conv2d, NonSquareStrideDilationGroups) {
  Conv2dArgs args{{2, 1}, {1, 0}, {2, 1}, 2};
  ShapeResult r = conv2d({D, 4, 11, 8}, {6, 2, 3, 2}, std::nullopt, args);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.shape, (Shape{D, 6, 5, 7}));
}

TEST(Conv2d, WeightShapeOfGroups) {
  EXPECT_EQ(conv2dWeightShape(8, 16, {3, 1}, 4), (Shape{16, 2, 3, 1}));
}

TEST(Conv2d, Errors) {
  EXPECT_NE(conv2d({D, 3, 4, 4}, {6, 3, 5, 5}, std::nullopt, {})
                .error.find(
                    "kernel height 5 is larger than the padded input height 4"),
            std::string::npos);
  EXPECT_NE(conv2d({D, 3, 8, 8}, {6, 1, 3, 3}, std::nullopt,
                   {{1, 1}, {0, 0}, {1, 1}, 2})
                .error.find("in_channels 3 is not divisible by groups 2"),
            std::string::npos);
  EXPECT_NE(conv2d({D, 4, 8, 8}, {5, 2, 3, 3}, std::nullopt,
                   {{1, 1}, {0, 0}, {1, 1}, 2})
                .error.find("out_channels 5 is not divisible by groups 2"),
            std::string::npos);
  EXPECT_NE(conv2d({D, 3, 8, 8}, {6, 3, 3, 3}, Shape{5}, {})
                .error.find("bias must have shape [6]"),
            std::string::npos);
  EXPECT_NE(
      conv2d({D, 3, 8}, {6, 3, 3, 3}, std::nullopt, {}).error.find("rank 4"),
      std::string::npos);
  EXPECT_NE(conv2d({D, 3, 8, 8}, {6, 3, 3, 3}, std::nullopt,
                   {{0, 1}, {0, 0}, {1, 1}, 1})
                .error.find("stride must be at least 1"),
            std::string::npos);
  EXPECT_NE(conv2d({D, 3, 8, 8}, {6, 3, 3, 3}, std::nullopt,
                   {{1, 1}, {-1, 0}, {1, 1}, 1})
                .error.find("padding must be non-negative"),
            std::string::npos);
  EXPECT_NE(conv2d({D, 3, 8, 8}, {6, 3, 3, 3}, std::nullopt,
                   {{1, 1}, {0, 0}, {1, 1}, 0})
                .error.find("groups must be at least 1"),
            std::string::npos);
  // Dilation makes a small kernel too large.
  EXPECT_NE(conv2d({D, 3, 5, 5}, {6, 3, 3, 3}, std::nullopt,
                   {{1, 1}, {0, 0}, {3, 1}, 1})
                .error.find("(dilated to 7)"),
            std::string::npos);
}

TEST(Linear, ShapesAndErrors) {
  ShapeResult r = linear({D, 400}, {120, 400}, Shape{120});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 120}));
  EXPECT_NE(linear({D, 100}, {10, 120}, std::nullopt)
                .error.find("expects 120 input features but the input has 100"),
            std::string::npos);
  EXPECT_NE(linear({D, 3, 8, 8}, {10, 192}, std::nullopt).error.find("flatten"),
            std::string::npos);
}

TEST(Pooling, MaxAndAverage) {
  ShapeResult r = maxPool2d({D, 6, 28, 28}, {{2, 2}, {2, 2}, {0, 0}, {1, 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 6, 14, 14}));
  // ResNet's stem pool: 112 -> 56 with padding 1.
  r = maxPool2d({D, 64, 112, 112}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 64, 56, 56}));
  r = avgPool2d({D, 3, 7, 5}, {{2, 3}, {1, 1}, {1, 1}, {1, 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 3, 8, 5}));
  EXPECT_NE(maxPool2d({D, 3, 8, 8}, {{2, 2}, {2, 2}, {2, 2}, {1, 1}})
                .error.find("at most half"),
            std::string::npos);
  EXPECT_NE(avgPool2d({D, 3, 8, 8}, {{2, 2}, {2, 2}, {0, 0}, {2, 2}})
                .error.find("no dilation"),
            std::string::npos);
  EXPECT_NE(maxPool2d({D, 3, 1, 8}, {{2, 2}, {2, 2}, {0, 0}, {1, 1}})
                .error.find("pooling window height 2 is larger"),
            std::string::npos);
}

// PyTorch's sizes (torch 2.x, MaxPool2d and AvgPool2d alike): the last
// window must start inside the input or its left padding.
TEST(Pooling, CeilMode) {
  struct Case {
    int64_t in, k, s, p, floorOut, ceilOut;
  };
  for (const Case &c : std::vector<Case>{{5, 2, 2, 0, 2, 3},
                                         {6, 3, 2, 1, 3, 4},
                                         {5, 2, 2, 1, 3, 3},
                                         {7, 3, 2, 0, 3, 3},
                                         {4, 3, 3, 1, 2, 2}}) {
    Pool2dArgs args({c.k, c.k}, {c.s, c.s}, {c.p, c.p}, {1, 1});
    EXPECT_EQ(maxPool2d({D, 2, c.in, c.in}, args).shape,
              (Shape{D, 2, c.floorOut, c.floorOut}));
    args.ceilMode = true;
    EXPECT_EQ(maxPool2d({D, 2, c.in, c.in}, args).shape,
              (Shape{D, 2, c.ceilOut, c.ceilOut}))
        << "in " << c.in << " k " << c.k << " s " << c.s << " p " << c.p;
    EXPECT_EQ(avgPool2d({D, 2, c.in, c.in}, args).shape,
              (Shape{D, 2, c.ceilOut, c.ceilOut}));
    // A ceil_mode window past the edge reads a padded input.
    EXPECT_EQ(poolReadsOutside({D, 2, c.in, c.in}, args),
              c.p > 0 || c.ceilOut > c.floorOut);
  }
  EXPECT_FALSE(
      poolReadsOutside({D, 2, 8, 8}, {{2, 2}, {2, 2}, {0, 0}, {1, 1}}));
}

TEST(Pooling, DivisorOverride) {
  Pool2dArgs args({2, 2}, {2, 2}, {0, 0}, {1, 1});
  args.divisorOverride = 3;
  EXPECT_TRUE(avgPool2d({D, 2, 8, 8}, args).ok());
  EXPECT_NE(maxPool2d({D, 2, 8, 8}, args).error.find("no divisor_override"),
            std::string::npos);
  args.divisorOverride = 0;
  EXPECT_NE(avgPool2d({D, 2, 8, 8}, args).error.find("at least 1"),
            std::string::npos);
}

TEST(Cat, JoinsAlongOneDim) {
  EXPECT_EQ(cat({{D, 3, 4, 5}, {D, 2, 4, 5}, {D, 1, 4, 5}}, 1).shape,
            (Shape{D, 6, 4, 5}));
  EXPECT_EQ(cat({{D, 3}, {D, 4}}, 1).shape, (Shape{D, 7}));
  EXPECT_NE(cat({{D, 3, 4, 5}, {D, 2, 4, 6}}, 1)
                .error.find("input 2 has shape [?, 2, 4, 6] but input 1 has "
                            "[?, 3, 4, 5]: they may differ only in dim 1"),
            std::string::npos);
  EXPECT_NE(cat({{D, 3}, {D, 4}}, 0).error.find("dim 0 is the batch"),
            std::string::npos);
  EXPECT_FALSE(cat({{D, 3}}, 1).ok());
  // Batches must agree (or be dynamic); a dynamic joined size stays so.
  EXPECT_FALSE(cat({{2, 3}, {4, 3}}, 1).ok());
  EXPECT_EQ(cat({{2, 3}, {D, 3}}, 1).shape, (Shape{2, 6}));
  EXPECT_EQ(cat({{2, 3, D}, {2, 3, 4}}, 2).shape, (Shape{2, 3, D}));
  EXPECT_EQ(slice({D, 6, 4, 5}, 1, 2, 3).shape, (Shape{D, 3, 4, 5}));
  EXPECT_FALSE(slice({D, 6, 4, 5}, 1, 4, 3).ok());
}

TEST(Softmax, AlongAnyDimButTheBatch) {
  EXPECT_EQ(softmax({D, 10}, 1).shape, (Shape{D, 10}));
  EXPECT_EQ(softmax({D, 4, 3, 2}, 3).shape, (Shape{D, 4, 3, 2}));
  EXPECT_NE(softmax({D, 10}, 0).error.find("dim 0 is the batch"),
            std::string::npos);
  EXPECT_FALSE(softmax({D, 10}, 2).ok());
  EXPECT_FALSE(softmax({D}, 1).ok());
  EXPECT_TRUE(softmaxGrad({D, 4, 3, 2}, {D, 4, 3, 2}, 2).ok());
  EXPECT_FALSE(softmaxGrad({D, 4, 3, 2}, {D, 4, 3, 3}, 2).ok());
}

TEST(Pad2d, ShapesAndLimits) {
  EXPECT_EQ(pad2d({D, 3, 5, 4}, {{1, 0}, {2, 3}, PadMode::Reflect}).shape,
            (Shape{D, 3, 8, 7}));
  // PyTorch: reflect pads less than the size, circular at most the size.
  EXPECT_TRUE(pad2d({D, 3, 5, 4}, {{4, 3}, {4, 3}, PadMode::Reflect}).ok());
  EXPECT_NE(pad2d({D, 3, 5, 4}, {{1, 4}, {0, 0}, PadMode::Reflect})
                .error.find("reflect padding 4 must be less than the input "
                            "width 4"),
            std::string::npos);
  EXPECT_TRUE(pad2d({D, 3, 5, 4}, {{5, 4}, {5, 4}, PadMode::Circular}).ok());
  EXPECT_NE(pad2d({D, 3, 5, 4}, {{0, 0}, {6, 0}, PadMode::Circular})
                .error.find("at most the input height 5"),
            std::string::npos);
  EXPECT_TRUE(pad2d({D, 3, 1, 1}, {{9, 9}, {9, 9}, PadMode::Replicate}).ok());
  EXPECT_FALSE(pad2d({D, 3, 5, 4}, {{-1, 0}, {0, 0}, PadMode::Zeros}).ok());
  EXPECT_EQ(padModeNamed("circular"), PadMode::Circular);
  EXPECT_NE(pad2dGrad({D, 3, 2, 2}, {{1, 1}, {1, 1}, PadMode::Zeros}, {0, 0})
                .error.find("input_size must be at least 1"),
            std::string::npos);
  EXPECT_FALSE(padModeNamed("constant"));
}

// PyTorch's padding='same': d(k - 1) in all, the odd one at the end.
TEST(Pad2d, SamePadding) {
  Pad2dArgs odd = samePadding({3, 5}, {1, 2});
  EXPECT_EQ(odd.begin, (Pair{1, 4}));
  EXPECT_EQ(odd.end, (Pair{1, 4}));
  Pad2dArgs even = samePadding({4, 2}, {1, 3});
  EXPECT_EQ(even.begin, (Pair{1, 1}));
  EXPECT_EQ(even.end, (Pair{2, 2}));
}

TEST(Pooling, Adaptive) {
  ShapeResult r = adaptiveAvgPool2d({D, 512, 7, 7}, {1, 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 512, 1, 1}));
  EXPECT_FALSE(adaptiveAvgPool2d({D, 512, 7, 7}, {0, 1}).ok());
  EXPECT_EQ(adaptiveMaxPool2d({D, 8, 7, 5}, {3, 2}).shape, (Shape{D, 8, 3, 2}));
  EXPECT_EQ(adaptiveMaxPool2dGrad({D, 8, 7, 5}, {D, 8, 3, 2}).shape,
            (Shape{D, 8, 7, 5}));
  EXPECT_NE(adaptiveMaxPool2dGrad({D, 8, 7, 5}, {D, 4, 3, 2})
                .error.find("adaptive_maxpool2d gradient has shape"),
            std::string::npos);
}

TEST(Flatten, KeepsBatch) {
  ShapeResult r = flatten({D, 16, 5, 5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 400}));
  EXPECT_FALSE(flatten({D}).ok());
}

TEST(Add, EqualShapesOnly) {
  ShapeResult r = add({D, 64, 56, 56}, {D, 64, 56, 56});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.shape, (Shape{D, 64, 56, 56}));
  // A size known on one side only is the result's.
  EXPECT_EQ(add({D, 10}, {4, 10}).shape, (Shape{4, 10}));
  ShapeResult bad = add({D, 64, 56, 56}, {D, 128, 28, 28});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error,
            "operand shapes differ: [?, 64, 56, 56] and [?, 128, 28, 28]");
  // No broadcasting, not even of a rank.
  EXPECT_FALSE(add({D, 8, 1, 1}, {D, 8}).ok());
}

TEST(BatchNorm2d, KeepsShapeAndChecksChannels) {
  ChannelOperands four = {{"weight", {4}},
                          {"bias", {4}},
                          {"running_mean", {4}},
                          {"running_var", {4}}};
  ShapeResult r = batchNorm2d({D, 4, 7, 5}, four);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.shape, (Shape{D, 4, 7, 5}));
  EXPECT_EQ(batchNorm2d({D, 3, 7, 5}, four).error,
            "weight must have shape [3] (one value per input channel) but "
            "has [4]");
  EXPECT_EQ(batchNorm2d({D, 4, 7, 5}, {{"running_var", {4, 1}}}).error,
            "running_var must have shape [4] (one value per input channel) "
            "but has [4, 1]");
  EXPECT_NE(batchNorm2d({D, 12}, four)
                .error.find(
                    "batchnorm2d input must have rank 4 but has shape [?, 12]"),
            std::string::npos);
}

TEST(BatchNorm2d, Gradients) {
  ChannelOperands stats = {{"running_mean", {4}}, {"running_var", {4}}};
  ShapeResult dx = batchNorm2dInputGrad({D, 4, 3, 3}, {D, 4, 3, 3}, stats);
  ASSERT_TRUE(dx.ok()) << dx.error;
  EXPECT_EQ(dx.shape, (Shape{D, 4, 3, 3}));
  ShapeResult dw = batchNorm2dWeightGrad({D, 4, 3, 3}, {D, 4, 3, 3}, stats);
  ASSERT_TRUE(dw.ok()) << dw.error;
  EXPECT_EQ(dw.shape, (Shape{4}));
  EXPECT_EQ(batchNorm2dWeightGrad({D, 4, 3, 3}, {D, 4, 3, 2}, stats).error,
            "batchnorm2d gradient has shape [?, 4, 3, 2] but the forward "
            "result is [?, 4, 3, 3]");
  EXPECT_FALSE(
      batchNorm2dInputGrad({D, 4, 3, 3}, {D, 4, 3, 3}, {{"weight", {5}}}).ok());
}

TEST(Dropout, ProbabilityInZeroOneAndWholeChannelsOfFeatureMaps) {
  const Shape x{D, 3, 4, 4}, features{D, 10};
  for (double p : {0.0, 0.5, 1.0}) {
    ShapeResult r = dropout(x, p, true);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.shape, x);
    EXPECT_EQ(dropout(features, p, false).shape, features);
  }
  EXPECT_EQ(dropout(x, 1.5, false).error,
            "dropout probability has to be between 0 and 1, but got 1.5");
  EXPECT_FALSE(dropout(x, -0.1, false).ok());
  EXPECT_FALSE(dropout(x, std::nan(""), false).ok());
  EXPECT_EQ(dropout(features, 0.5, true).error,
            "dropout2d takes [N, C, H, W] but the input has shape [?, 10]; "
            "use dropout for element-wise masks");
}

TEST(Activations, ArgumentsThatKeepTheGradientReadableFromTheResult) {
  const Shape x{D, 3, 4, 4};
  for (ShapeResult r :
       {leakyRelu(x, 0.0), leakyRelu(x, 0.01), elu(x, 0.0), elu(x, 1.0),
        hardtanh(x, -1.0, 1.0), hardtanh(x, 0.0, 6.0)}) {
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.shape, x);
  }
  EXPECT_EQ(leakyRelu(x, -0.5).error,
            "negative_slope must be a finite number >= 0 (the gradient is read "
            "from the result, as PyTorch's in-place LeakyReLU does), got -0.5");
  EXPECT_FALSE(leakyRelu(x, std::nan("")).ok());
  EXPECT_FALSE(elu(x, -1.0).ok());
  EXPECT_FALSE(elu(x, HUGE_VAL).ok());
  EXPECT_EQ(hardtanh(x, 1.0, 0.5).error,
            "min_val must be below max_val, got 1 and 0.5");
  EXPECT_FALSE(hardtanh(x, 2.0, 2.0).ok());
  EXPECT_FALSE(hardtanh(x, -HUGE_VAL, 1.0).ok());
}

TEST(Format, ShowsDynamicAsQuestionMark) {
  EXPECT_EQ(format({D, 3, 32, 32}), "[?, 3, 32, 32]");
}
} // namespace
