// The fusion plan's rules (FusionPlan.h), a cnn function's plan
// (FunctionFusion.h) and its segmentation into pipelines (Segmentation.h)
// on hand-written IR.
#include "cnnc/lowering/Segmentation.h"
#include "cnn/CnnDialect.h"
#include "cnnc/halide/FusionPlan.h"
#include "cnnc/lowering/FunctionFusion.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser.h"

#include <gtest/gtest.h>

#include <string>

namespace cnnc {
namespace {

using fusion::Node;
using fusion::Role;

Node node(Role role, std::vector<int> operands = {}, bool padded = false) {
  Node n;
  n.role = role;
  n.operands = std::move(operands);
  n.padded = padded;
  return n;
}

TEST(FusionPlan, PointwiseChainsJoinTheirOnlyProducer) {
  // conv -> bn -> add(., x) -> relu, then a pool; x is another conv.
  std::vector<Node> nodes = {
      node(Role::Convolution),       // 0: x
      node(Role::Convolution, {0}),  // 1
      node(Role::Pointwise, {1}),    // 2: bn
      node(Role::Pointwise, {2, 0}), // 3: add
      node(Role::Pointwise, {3}),    // 4: relu
      node(Role::Forward, {4}),      // 5: linear
  };
  fusion::Plan plan = fusion::plan(nodes);
  ASSERT_EQ(plan.groups.size(), 3u);
  // x has two readers: it is stored, nothing joins it.
  EXPECT_EQ(plan.groups[0].anchor, 0);
  EXPECT_TRUE(plan.groups[0].chain.empty());
  EXPECT_EQ(plan.groups[1].anchor, 1);
  EXPECT_EQ(plan.groups[1].chain, (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(plan.groups[1].stored(), 4);
  EXPECT_EQ(*plan.groupOf[3], 1);
  EXPECT_EQ(plan.groups[2].anchor, 5);
}

TEST(FusionPlan, OutputsAndSecondReadersEndAChain) {
  std::vector<Node> nodes = {
      node(Role::Convolution), node(Role::Pointwise, {0}),
      node(Role::Pointwise, {1}), node(Role::Backward, {1})};
  nodes[1].isOutput = false;
  fusion::Plan plan = fusion::plan(nodes);
  // Node 1 is also read by a gradient: the chain stops there, and the
  // backward node belongs to no group.
  EXPECT_EQ(plan.groups[0].chain, (std::vector<int>{1}));
  EXPECT_FALSE(plan.groupOf[3]);
  nodes[1].isOutput = true;
  nodes.pop_back();
  plan = fusion::plan(nodes);
  EXPECT_EQ(plan.groups[0].chain, (std::vector<int>{1}));
  EXPECT_EQ(plan.groups[1].anchor, 2);
}

TEST(FusionPlan, ConvolutionsAreComputedInsideTheUnpaddedPoolsThatReadThem) {
  std::vector<Node> nodes = {node(Role::Convolution),    // 0
                             node(Role::Pointwise, {0}), // 1: relu
                             node(Role::Pool, {1}),      // 2
                             node(Role::Convolution, {2}, /*padded=*/true),
                             node(Role::Pool, {3}),        // 4
                             node(Role::Convolution, {4}), // 5
                             node(Role::Pool, {5}, /*padded=*/true)};
  fusion::Plan plan = fusion::plan(nodes);
  ASSERT_EQ(plan.groups.size(), 6u);
  EXPECT_EQ(plan.groups[0].computedInside, plan.groupOf[2]);
  // A padded conv, and a padded pool, keep their results stored.
  EXPECT_FALSE(plan.groups[*plan.groupOf[3]].computedInside);
  EXPECT_FALSE(plan.groups[*plan.groupOf[5]].computedInside);
  // The conv, its relu and the pool stay in one pipeline.
  EXPECT_EQ(plan.bundle(0), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(plan.bundle(2), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(plan.bundle(3), (std::vector<int>{3}));
}

TEST(FusionPlan, UpdatesAreComputedWithTheirWeightGradient) {
  std::vector<Node> nodes = {node(Role::Backward),
                             node(Role::WeightGradient, {0}),
                             node(Role::Backward, {0}), node(Role::Update, {1}),
                             node(Role::Update, {2})};
  fusion::Plan plan = fusion::plan(nodes);
  EXPECT_TRUE(plan.groups.empty());
  EXPECT_EQ(plan.updateOf[1], 3);
  EXPECT_FALSE(plan.updateOf[2]); // an update of another backward op's result
  EXPECT_EQ(plan.bundle(3), (std::vector<int>{1, 3}));
}

class Segmentation : public ::testing::Test {
protected:
  Segmentation() {
    context.getOrLoadDialect<cnn::CnnDialect>();
    context.getOrLoadDialect<mlir::StandardOpsDialect>();
  }
  mlir::FuncOp parse(const std::string &body, const std::string &results) {
    module = mlir::parseSourceString(
        "func @f(%x: tensor<?x2x8x8xf32>, %dy: tensor<?x2x8x8xf32>) -> " +
            results + " {\n" + body + "}\n",
        &context);
    EXPECT_TRUE(module);
    return module->lookupSymbol<mlir::FuncOp>("f");
  }
  /// The ops of each segment, by their result names or op names.
  static std::vector<std::vector<std::string>> names(const SegmentPlan &plan) {
    std::vector<std::vector<std::string>> result;
    for (const auto &segment : plan) {
      result.emplace_back();
      for (mlir::Operation *op : segment)
        result.back().push_back(op->getName().stripDialect().str());
    }
    return result;
  }
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

const char *const kT = "tensor<?x2x8x8xf32>";

/// `n` times conv -> relu, each pair's relu read by the next conv and by a
/// relu_grad (so no pair is fused with the next).
std::string convReluPairs(int n) {
  std::string ir = "  %w = cnn.parameter \"w\" : tensor<2x2x1x1xf32>\n";
  std::string in = "%x";
  for (int i = 0; i < n; ++i) {
    const std::string c = "%c" + std::to_string(i),
                      r = "%r" + std::to_string(i);
    ir += "  " + c + " = cnn.conv2d " + in +
          ", %w {stride = [1, 1], padding = [0, 0], dilation = [1, 1], "
          "groups = 1} : (" +
          kT + ", tensor<2x2x1x1xf32>) -> " + kT + "\n";
    ir += "  " + r + " = cnn.relu " + c + " : (" + kT + ") -> " + kT + "\n";
    ir += "  %g" + std::to_string(i) + " = cnn.relu_grad " + r + ", %dy : (" +
          kT + ", " + kT + ") -> " + kT + "\n";
    in = r;
  }
  return ir;
}

TEST_F(Segmentation, ShortFunctionsAreOneSegment) {
  mlir::FuncOp f =
      parse(convReluPairs(2) + "  return %r1 : tensor<?x2x8x8xf32>\n", kT);
  FunctionFusion fusion = planFunctionFusion(f);
  EXPECT_EQ(fusion.ops.size(), 6u); // parameters and the return left out
  SegmentPlan plan = planSegments(fusion, /*segmentOps=*/3, /*wholeUpTo=*/6);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], fusion.ops);
  EXPECT_EQ(planSegments(fusion, 0, 0).size(), 1u);
}

TEST_F(Segmentation, TheWholeFunctionLimitIsApartFromTheSegmentSize) {
  // What the default SegmentSizes rely on: a short training step stays one
  // pipeline although its segments, once it is cut, are short.
  mlir::FuncOp f =
      parse(convReluPairs(2) + "  return %r1 : tensor<?x2x8x8xf32>\n", kT);
  FunctionFusion fusion = planFunctionFusion(f);
  ASSERT_EQ(fusion.ops.size(), 6u);
  EXPECT_EQ(planSegments(fusion, /*segmentOps=*/1, /*wholeUpTo=*/6).size(), 1u);
  SegmentPlan cut = planSegments(fusion, /*segmentOps=*/1, /*wholeUpTo=*/5);
  EXPECT_GE(cut.size(), 2u);
  const SegmentSizes uniform = SegmentSizes::uniform(3);
  EXPECT_EQ(uniform.wholeUpTo, 6);
  EXPECT_EQ(uniform.forward, 3);
  EXPECT_EQ(uniform.train, 3);
}

TEST_F(Segmentation, CutsKeepEveryFusedGroupWhole) {
  mlir::FuncOp f =
      parse(convReluPairs(6) + "  return %r5 : tensor<?x2x8x8xf32>\n", kT);
  FunctionFusion fusion = planFunctionFusion(f);
  // Each conv's relu joins it (its only reader); the relu is read twice.
  ASSERT_EQ(fusion.plan.groups.size(), 6u);
  for (const fusion::Group &g : fusion.plan.groups)
    EXPECT_EQ(g.chain.size(), 1u);
  SegmentPlan plan = planSegments(fusion, /*segmentOps=*/4, /*wholeUpTo=*/8);
  // 18 ops in segments of at least 4, cut after a relu_grad or a relu,
  // never between a conv and its relu.
  ASSERT_GE(plan.size(), 3u);
  size_t total = 0;
  for (const auto &segment : plan) {
    total += segment.size();
    for (size_t i = 0; i < segment.size(); ++i)
      if (segment[i]->getName().stripDialect() == "conv2d") {
        ASSERT_LT(i + 1, segment.size());
        EXPECT_EQ(segment[i + 1]->getName().stripDialect(), "relu");
      }
  }
  EXPECT_EQ(total, 18u);
  for (size_t s = 0; s + 1 < plan.size(); ++s)
    EXPECT_GE(plan[s].size(), 4u);
}

TEST_F(Segmentation, ALongChainIsCutAfterTwiceTheSizeAndSplitIntoParts) {
  // conv -> 7 relus, each the only reader of the one before: one group of
  // 8 ops, longer than 2 x segmentOps.
  std::string ir = convReluPairs(0) +
                   "  %c = cnn.conv2d %x, %w {stride = [1, 1], padding = [0, "
                   "0], dilation = [1, 1], groups = 1} : (" +
                   std::string(kT) + ", tensor<2x2x1x1xf32>) -> " + kT + "\n";
  std::string in = "%c";
  for (int i = 0; i < 7; ++i) {
    const std::string r = "%r" + std::to_string(i);
    ir += "  " + r + " = cnn.relu " + in + " : (" + kT + ") -> " + kT + "\n";
    in = r;
  }
  mlir::FuncOp f = parse(ir + "  return %r6 : tensor<?x2x8x8xf32>\n", kT);
  FunctionFusion fusion = planFunctionFusion(f);
  ASSERT_EQ(fusion.plan.groups.size(), 1u);
  EXPECT_EQ(fusion.plan.groups[0].chain.size(), 7u);
  SegmentPlan plan = planSegments(fusion, /*segmentOps=*/2, /*wholeUpTo=*/4);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].size(), 4u); // forced at twice the size
  // Each segment schedules its part of the group as a group of its own.
  std::vector<fusion::Group> first = fusion.groupsIn(plan[0]);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].anchor, 0);
  EXPECT_EQ(first[0].chain, (std::vector<int>{1, 2, 3}));
  std::vector<fusion::Group> second = fusion.groupsIn(plan[1]);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].anchor, 0);
  EXPECT_EQ(second[0].chain, (std::vector<int>{1, 2, 3}));
}

TEST_F(Segmentation, UpdatesGoWithTheirLastOperand) {
  std::string ir =
      convReluPairs(5) +
      "  %wg = cnn.conv2d_weight_grad %x, %g4 {stride = [1, 1], padding = "
      "[0, 0], dilation = [1, 1], groups = 1, kernel_size = [1, 1]} : (" +
      std::string(kT) + ", " + kT +
      ") -> tensor<2x2x1x1xf32>\n"
      "  cnn.sgd_update %w, %wg : tensor<2x2x1x1xf32>\n";
  mlir::FuncOp f = parse(ir + "  return %r4 : tensor<?x2x8x8xf32>\n", kT);
  FunctionFusion fusion = planFunctionFusion(f);
  SegmentPlan plan = planSegments(fusion, /*segmentOps=*/3, /*wholeUpTo=*/6);
  ASSERT_GE(plan.size(), 2u);
  const std::vector<std::string> last = names(plan).back();
  ASSERT_GE(last.size(), 2u);
  EXPECT_EQ(last[last.size() - 2], "conv2d_weight_grad");
  EXPECT_EQ(last.back(), "sgd_update");
  std::vector<std::optional<size_t>> updates = fusion.updatesIn(plan.back());
  EXPECT_EQ(updates[last.size() - 2], last.size() - 1);
}

} // namespace
} // namespace cnnc
