// The YAML front end on its own: defaults, names, repeat, and diagnostics.
#include "cnnc/importer/LayerTable.h"
#include "cnnc/importer/NetworkSpec.h"
#include "cnnc/importer/Suggest.h"

#include <gtest/gtest.h>

using namespace cnnc;

namespace {

struct Parsed {
  bool ok = false;
  NetworkSpec spec;
  std::vector<std::pair<SourcePos, std::string>> errors;
};

Parsed parse(const std::string &text) {
  Parsed p;
  p.ok = parseNetworkSpec(text, "file_stem", p.spec,
                          [&](SourcePos pos, const std::string &message) {
                            p.errors.push_back({pos, message});
                          });
  return p;
}

TEST(SpecParser, PyTorchDefaults) {
  Parsed p = parse("input: [3, 32, 32]\n"
                   "layers:\n"
                   "  - conv2d: {out_channels: 6, kernel_size: 5}\n"
                   "  - maxpool2d: {kernel_size: [2, 3]}\n"
                   "  - avgpool2d: {kernel_size: 2}\n"
                   "  - flatten\n"
                   "  - linear: {out_features: 10}\n");
  ASSERT_TRUE(p.ok) << p.errors.front().second;
  EXPECT_EQ(p.spec.name, "file_stem");
  ASSERT_EQ(p.spec.layers.size(), 5u);
  const LayerSpec &conv = p.spec.layers[0];
  EXPECT_EQ(conv.def->name, "conv2d");
  EXPECT_EQ(conv.args.pair("stride"), (cnn::shape::Pair{1, 1}));
  EXPECT_EQ(conv.args.pair("padding"), (cnn::shape::Pair{0, 0}));
  EXPECT_EQ(conv.args.pair("dilation"), (cnn::shape::Pair{1, 1}));
  EXPECT_EQ(conv.args.integer("groups"), 1);
  EXPECT_TRUE(conv.args.flag("bias"));
  EXPECT_FALSE(conv.args.given("in_channels"));
  // Pooling stride defaults to the kernel size.
  EXPECT_EQ(p.spec.layers[1].args.pair("stride"), (cnn::shape::Pair{2, 3}));
  EXPECT_TRUE(p.spec.layers[2].args.flag("count_include_pad"));
  EXPECT_TRUE(p.spec.layers[4].args.flag("bias"));
}

TEST(SpecParser, BatchNormDefaultsAndNames) {
  Parsed p = parse("input: [3, 8, 8]\n"
                   "layers:\n"
                   "  - batchnorm2d\n"
                   "  - batchnorm2d: {name: bn_x, eps: 0.001, momentum: 0.3,"
                   " num_features: 3}\n"
                   "  - batchnorm2d: {}\n"
                   "train: {frozen_batchnorm: batch_stats}\n");
  ASSERT_TRUE(p.ok) << p.errors.front().second;
  ASSERT_EQ(p.spec.layers.size(), 3u);
  const LayerSpec &bn = p.spec.layers[0];
  EXPECT_EQ(bn.def->name, "batchnorm2d");
  EXPECT_EQ(bn.name, "bn1");
  EXPECT_DOUBLE_EQ(bn.args.real("eps"), 1e-5);
  EXPECT_DOUBLE_EQ(bn.args.real("momentum"), 0.1);
  EXPECT_FALSE(bn.args.given("num_features"));
  EXPECT_EQ(p.spec.layers[1].name, "bn_x");
  EXPECT_DOUBLE_EQ(p.spec.layers[1].args.real("eps"), 0.001);
  EXPECT_DOUBLE_EQ(p.spec.layers[1].args.real("momentum"), 0.3);
  EXPECT_EQ(p.spec.layers[1].args.integer("num_features"), 3);
  EXPECT_EQ(p.spec.layers[2].name, "bn2");
  EXPECT_EQ(p.spec.train.frozenBatchNorm, recipe::FrozenBatchNorm::BatchStats);
  EXPECT_EQ(
      parse("input: [3, 8, 8]\nlayers: [relu]\n").spec.train.frozenBatchNorm,
      recipe::FrozenBatchNorm::Eval);
}

TEST(SpecParser, GeneratedNamesSkipExplicitOnes) {
  Parsed p =
      parse("input: [3, 8, 8]\n"
            "layers:\n"
            "  - conv2d: {out_channels: 2, kernel_size: 1}\n"
            "  - conv2d: {name: conv2, out_channels: 2, kernel_size: 1}\n"
            "  - conv2d: {out_channels: 2, kernel_size: 1}\n"
            "  - relu\n  - relu\n");
  ASSERT_TRUE(p.ok);
  std::vector<std::string> names;
  for (auto &l : p.spec.layers)
    names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "conv2", "conv3", "relu1",
                                             "relu2"}));
}

TEST(SpecParser, RepeatExpandsWithQualifiedNames) {
  Parsed p =
      parse("input: [3, 8, 8]\n"
            "layers:\n"
            "  - repeat: 2\n"
            "    name: block\n"
            "    layers:\n"
            "      - conv2d: {name: c, out_channels: 3, kernel_size: 1}\n"
            "      - repeat: 3\n"
            "        layers: [relu]\n");
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.spec.layers.size(), 8u);
  EXPECT_EQ(p.spec.layers[0].name, "block.0.c");
  EXPECT_EQ(p.spec.layers[4].name, "block.1.c");
  EXPECT_EQ(p.spec.layers[7].name, "relu6");
}

TEST(SpecParser, ReportsEveryProblemWithPosition) {
  Parsed p = parse("input: [3, 8, 8]\n"
                   "layers:\n"
                   "  - conv2d: {out_chanels: 4, kernel_size: 3}\n"
                   "  - maxpool2d: {kernel_size: 0}\n"
                   "  - sigmoidd\n");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 3u);
  EXPECT_EQ(p.errors[0].first.line, 3u);
  EXPECT_EQ(p.errors[0].first.column, 14u);
  EXPECT_NE(p.errors[0].second.find("did you mean 'out_channels'?"),
            std::string::npos);
  EXPECT_EQ(p.errors[1].first.line, 4u);
  EXPECT_NE(p.errors[1].second.find("'kernel_size' must be at least 1"),
            std::string::npos);
  EXPECT_EQ(p.errors[2].first.line, 5u);
  EXPECT_NE(p.errors[2].second.find("did you mean 'sigmoid'?"),
            std::string::npos);
}

TEST(SpecParser, RejectsAbsurdRepeatAndHugeExpansion) {
  Parsed p = parse(
      "input: [3, 8, 8]\nlayers:\n  - repeat: 5000\n    layers: [relu]\n");
  EXPECT_FALSE(p.ok);
  p = parse("input: [3, 8, 8]\nlayers:\n  - repeat: 200\n    layers:\n"
            "      - repeat: 200\n        layers: [relu]\n");
  EXPECT_FALSE(p.ok);
  ASSERT_FALSE(p.errors.empty());
  EXPECT_NE(p.errors[0].second.find("more than 10000 layers"),
            std::string::npos);
}

TEST(SpecParser, SyntaxErrorsAndWrongTypes) {
  Parsed p = parse("input: [3, 8\nlayers: {");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].second.find("invalid YAML"), std::string::npos);

  p = parse("input: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 2.5, "
            "kernel_size: [1, 2, 3]}\n"
            "  - linear: {out_features: 4, bias: maybe}\n");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 3u);
  EXPECT_NE(p.errors[0].second.find("must be an integer, got '2.5'"),
            std::string::npos);
  EXPECT_NE(p.errors[1].second.find("a list of 3 values"), std::string::npos);
  EXPECT_NE(p.errors[2].second.find("true or false"), std::string::npos);

  p = parse("input: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: "
            "99999999999999999999, kernel_size: 1}\n");
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.errors[0].second.find("too large"), std::string::npos);
}

TEST(SpecParser, TrainSection) {
  Parsed p =
      parse("input: [1, 28, 28]\nlayers: [flatten]\n"
            "train:\n  batch_size: 64\n  epochs: 3\n"
            "  optimizer: {sgd: {lr: 0.01, momentum: 0.9, nesterov: true}}\n"
            "  lr_schedule: {step: {step_size: 2, gamma: 0.5}}\n");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.spec.train.batchSize, 64);
  EXPECT_EQ(p.spec.train.epochs, 3);
  EXPECT_DOUBLE_EQ(p.spec.train.sgd.lr, 0.01);
  EXPECT_DOUBLE_EQ(p.spec.train.sgd.momentum, 0.9);
  EXPECT_TRUE(p.spec.train.sgd.nesterov);
  EXPECT_EQ(p.spec.train.schedule.kind, recipe::LrScheduleKind::Step);
  EXPECT_EQ(p.spec.train.schedule.stepSize, 2);
  EXPECT_DOUBLE_EQ(p.spec.train.schedule.gamma, 0.5);
}

TEST(SpecParser, GraphFormOrdersLayersAfterTheirInputs) {
  // `s` names `b`, written after it: b is built first. Inputs are indices
  // of earlier layers, kNetworkInput for the network's input.
  Parsed p = parse("input: [3, 8, 8]\n"
                   "layers:\n"
                   "  - conv2d: {name: a, out_channels: 2, kernel_size: 1}\n"
                   "  - add: {name: s, inputs: [b, a]}\n"
                   "  - relu: {name: b, input: a}\n"
                   "  - tanh: {input: s}\n");
  ASSERT_TRUE(p.ok) << p.errors.front().second;
  std::vector<std::string> names;
  for (auto &l : p.spec.layers)
    names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "s", "tanh1"}));
  EXPECT_EQ(p.spec.layers[0].inputs, (std::vector<int>{kNetworkInput}));
  EXPECT_EQ(p.spec.layers[1].inputs, (std::vector<int>{0}));
  EXPECT_EQ(p.spec.layers[2].inputs, (std::vector<int>{1, 0}));
  EXPECT_EQ(p.spec.layers[3].inputs, (std::vector<int>{2}));
}

TEST(SpecParser, BlocksArgumentsPrefixesAndSkippedNodes) {
  Parsed p =
      parse("input: [3, 8, 8]\n"
            "blocks:\n"
            "  b:\n"
            "    args: [width, kernel: [3, 1], extra: false]\n"
            "    layers:\n"
            "      - conv2d: {out_channels: $width, kernel_size: $kernel}\n"
            "      - relu: {name: act, if: $extra}\n"
            "      - conv2d: {input: act, out_channels: 2, kernel_size: [1, "
            "$width]}\n"
            "layers:\n"
            "  - sequential:\n"
            "      name: seq\n"
            "      layers: [b: {width: 4}, b: {width: 5, extra: true}]\n"
            "  - b: {width: 1}\n");
  ASSERT_TRUE(p.ok) << p.errors.front().second;
  std::vector<std::string> names;
  for (auto &l : p.spec.layers)
    names.push_back(l.name);
  // seq.0.act is left out: seq.0.conv2 reads seq.0.conv1 through it.
  EXPECT_EQ(names, (std::vector<std::string>{
                       "seq.0.conv1", "seq.0.conv2", "seq.1.conv1", "seq.1.act",
                       "seq.1.conv2", "b1.conv1", "b1.conv2"}));
  EXPECT_EQ(p.spec.layers[0].args.integer("out_channels"), 4);
  EXPECT_EQ(p.spec.layers[0].args.pair("kernel_size"),
            (cnn::shape::Pair{3, 1}));
  EXPECT_EQ(p.spec.layers[1].inputs, (std::vector<int>{0}));
  EXPECT_EQ(p.spec.layers[1].args.pair("kernel_size"),
            (cnn::shape::Pair{1, 4}));
  EXPECT_EQ(p.spec.layers[2].inputs, (std::vector<int>{1}));
  EXPECT_EQ(p.spec.layers[4].inputs, (std::vector<int>{3}));
  EXPECT_EQ(p.spec.layers[5].args.integer("out_channels"), 1);
}

TEST(SpecParser, BlockMistakesAreReportedOncePerPlace) {
  // Two instances of a block with a typo in it: one message; a block that
  // contains itself is refused instead of expanded forever.
  Parsed p = parse("input: [3, 8, 8]\n"
                   "blocks:\n"
                   "  b:\n"
                   "    layers: [conv2d: {out_channels: 2, kernal_size: 1}]\n"
                   "  loop:\n"
                   "    layers: [loop]\n"
                   "layers: [b, b, loop]\n");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 2u) << p.errors[2].second;
  EXPECT_NE(p.errors[0].second.find("did you mean 'kernel_size'?"),
            std::string::npos);
  EXPECT_EQ(p.errors[1].second, "block 'loop' contains itself (loop -> loop)");
  EXPECT_EQ(p.errors[1].first.line, 6u);
}

TEST(SpecParser, BlockArgumentsOnlyInsideBlocks) {
  // `$name` outside a block body is a mistake in a layer, and plain text in
  // the train recipe.
  Parsed p = parse("input: [3, 8, 8]\n"
                   "layers:\n"
                   "  - conv2d: {out_channels: $width, kernel_size: 1}\n"
                   "train: {freeze: [\"$weird\"]}\n");
  EXPECT_FALSE(p.ok);
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_EQ(p.errors[0].first.column, 28u);
  EXPECT_EQ(p.errors[0].second, "'$width' names a block argument, but this "
                                "is not inside the layers of a block");
}

TEST(Suggest, NearMissesOnly) {
  std::vector<std::string> keys = {"kernel_size", "stride", "padding"};
  EXPECT_EQ(nearestMatch("kernal_size", keys), "kernel_size");
  EXPECT_EQ(nearestMatch("strdie", keys), "stride");
  EXPECT_EQ(nearestMatch("bias", keys), std::nullopt);
  EXPECT_TRUE(isValidLayerName("conv1"));
  EXPECT_FALSE(isValidLayerName("1conv"));
  EXPECT_FALSE(isValidLayerName("a.b"));
  EXPECT_FALSE(isValidLayerName(""));
}
} // namespace
