// Every op of the cnn dialect has each piece adding an op takes
// (docs/adding-an-op.md): a shape rule, a gradient rule or an explicit "not
// differentiable", a Halide lowering, a schedule on every backend's machine
// models, and a row in the profiler's table. An op that lacks one fails here
// with its name, and so does an op no test network uses (its lowering and
// schedules would go unchecked).
#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"
#include "cnnc/importer/Importer.h"
#include "cnnc/lowering/HalideLowering.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace cnnc {
namespace {

/// The networks that together use every op, forward and backward.
const char *const kNetworks[] = {
    CNNC_E2E_DIR "/general.yaml",           CNNC_E2E_DIR "/residual.yaml",
    CNNC_E2E_DIR "/batchnorm.yaml",         CNNC_E2E_DIR "/activations.yaml",
    CNNC_E2E_DIR "/input_activations.yaml", CNNC_E2E_DIR "/windows.yaml",
    CNNC_E2E_DIR "/softmax.yaml",           CNNC_E2E_DIR "/concat.yaml",
    CNNC_E2E_DIR "/batchnorm_options.yaml", CNNC_E2E_DIR "/dropout.yaml"};

/// A target of each machine model of the CPU backend, and of the GPU
/// backend's APIs.
const char *const kTargets[] = {
    "x86-64-linux-sse41",
    "x86-64-linux-avx-avx2-f16c-fma",
    "x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41",
    "arm-64-linux",
    "x86-64-linux-avx-avx2-f16c-fma-cuda-cuda_capability_80",
    "x86-64-linux-avx-avx2-f16c-fma-opencl"};

std::vector<mlir::RegisteredOperationName> cnnOps(mlir::MLIRContext &context) {
  context.getOrLoadDialect<cnn::CnnDialect>();
  std::vector<mlir::RegisteredOperationName> ops;
  for (mlir::RegisteredOperationName op : context.getRegisteredOperations())
    if (op.getDialect().getNamespace() == "cnn")
      ops.push_back(op);
  return ops;
}

TEST(OpTable, EveryOpHasAShapeRuleAndAGradientRuleAndALowering) {
  mlir::MLIRContext context;
  std::vector<mlir::RegisteredOperationName> ops = cnnOps(context);
  ASSERT_GE(ops.size(), 30u);
  const std::vector<std::string> unlowered = opsWithoutHalideLowering();
  for (mlir::RegisteredOperationName op : ops) {
    const std::string name = op.getStringRef().str();
    // A result type comes from a shape rule, except a parameter's, which
    // is declared (like a constant's); the updates have no result.
    const bool hasResults =
        name != "cnn.sgd_update" && name != "cnn.batchnorm2d_stats_update";
    if (hasResults && name != "cnn.parameter") {
      EXPECT_TRUE(op.hasInterface<mlir::InferTypeOpInterface>())
          << name << " has no shape rule (Cnn_InferredOp and inferShape)";
    }
    const bool differentiable = op.hasInterface<cnn::DifferentiableOp>();
    const bool notDifferentiable =
        op.hasTrait<cnn::OpTrait::NotDifferentiable>();
    EXPECT_TRUE(differentiable != notDifferentiable)
        << name
        << " needs either a gradient rule (DifferentiableOp) or the "
           "Cnn_NotDifferentiable trait, not both";
    EXPECT_EQ(std::count(unlowered.begin(), unlowered.end(), name), 0)
        << name << " has no Halide lowering (lowerOp in compiler/lowering)";
  }
}

/// Imports a network and adds its training step.
mlir::OwningOpRef<mlir::ModuleOp> importWithTrainStep(const char *path,
                                                      mlir::MLIRContext &c,
                                                      llvm::SourceMgr &sm) {
  mlir::SourceMgrDiagnosticHandler handler(sm, &c);
  auto module = importNetworkFile(path, sm, c);
  if (!module)
    return module;
  mlir::PassManager pm(&c);
  pm.addPass(cnn::createAutodiffPass());
  if (mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}

TEST(OpTable, EveryOpIsScheduledOnEveryMachineAndProfiled) {
  mlir::MLIRContext context;
  context.getOrLoadDialect<mlir::StandardOpsDialect>();
  std::set<std::string> used;
  for (const char *network : kNetworks) {
    llvm::SourceMgr sourceMgr;
    auto module = importWithTrainStep(network, context, sourceMgr);
    ASSERT_TRUE(module) << network;
    std::set<std::string> inModule;
    module->walk([&](mlir::Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "cnn")
        inModule.insert(op->getName().stripDialect().str());
    });
    used.insert(inModule.begin(), inModule.end());
    for (const char *targetName : kTargets) {
      // Each backend checks that it scheduled every result
      // (hl::verifyEveryResultScheduled): lowering fails otherwise.
      const Halide::Target target(targetName);
      LoweredPipeline forward, train;
      std::string error;
      const ModelAbi abi = describeAbi(*module);
      ASSERT_TRUE(lowerForward(*module, abi, target, SchedulePolicy::manual(),
                               forward, error))
          << network << " on " << targetName << ": " << error;
      ASSERT_TRUE(lowerTrainStep(*module, abi, target, SchedulePolicy::manual(),
                                 train, error))
          << network << " on " << targetName << ": " << error;
      std::set<std::string> profiled;
      for (const LoweredPipeline *p : {&forward, &train})
        for (const ProfiledOp &op : p->profiledOps)
          profiled.insert(op.op);
      // A constant (cnn.fill) is inlined where it is read: no time of its
      // own to profile.
      for (const std::string &op : inModule)
        EXPECT_TRUE(op == "fill" || profiled.count(op))
            << "cnn." << op << " of " << network
            << " has no row in the profiler's table";
    }
  }
  for (mlir::RegisteredOperationName op : cnnOps(context))
    EXPECT_TRUE(used.count(op.getStringRef().drop_front(4).str()))
        << op.getStringRef().str()
        << " appears in no test network: add it to one of the networks "
           "above so that its lowering and schedules are checked";
}

/// `name` with every character but letters and digits made '_', as the
/// lowering makes Func names from layer names.
std::string asIdentifier(const std::string &name) {
  std::string s = name;
  for (char &c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)))
      c = '_';
  return s;
}

/// The profiler files a Func's samples under the row whose key is the
/// longest word-prefix of its name (runtime/src/bench/Profile.cpp), so a
/// row's key must be the name every Func of its op starts with: its layer's
/// identifier, plus its mnemonic for the training step's own ops, or its
/// parameter's name plus "_sgd" for an SGD update. Keyed by an output Func's
/// name made unique ("layer1_0_conv1_conv2d_weight_grad_3" in the profiled
/// build of ResNet-18), a gradient's sums went to its forward layer's row.
/// The pipelines are lowered twice, as `cnnc bench` does (its normal and
/// profiled builds), so that the second lowering's Func names are made
/// unique; each convolution's sums must start with its row's key.
TEST(OpTable, ProfilerRowsAreKeyedByTheirOpsFuncNames) {
  mlir::MLIRContext context;
  context.getOrLoadDialect<mlir::StandardOpsDialect>();
  const Halide::Target target("x86-64-linux-avx-avx2-f16c-fma");
  for (const char *network :
       {CNNC_E2E_DIR "/residual.yaml", CNNC_E2E_DIR "/batchnorm.yaml"}) {
    llvm::SourceMgr sourceMgr;
    auto module = importWithTrainStep(network, context, sourceMgr);
    ASSERT_TRUE(module) << network;
    const ModelAbi abi = describeAbi(*module);
    for (int build = 0; build < 2; ++build) {
      LoweredPipeline forward, train;
      std::string error;
      ASSERT_TRUE(lowerForward(*module, abi, target, SchedulePolicy::manual(),
                               forward, error))
          << error;
      ASSERT_TRUE(lowerTrainStep(*module, abi, target, SchedulePolicy::manual(),
                                 train, error))
          << error;
      // Every Func of the pipelines, without Halide's "$<n>" suffixes.
      std::set<std::string> funcs;
      for (const LoweredPipeline *p : {&forward, &train})
        for (const PipelineSegment &segment : p->segments)
          for (const Halide::Func &out : segment.pipeline.outputs())
            for (const auto &[name, f] :
                 Halide::Internal::find_transitive_calls(out.function()))
              funcs.insert(name.substr(0, name.find('$')));
      for (const LoweredPipeline *p : {&forward, &train})
        for (const ProfiledOp &row : p->profiledOps) {
          // A convolution's sums ("<key>_accum", perhaps "<key>_accum_2")
          // are filed under its row.
          if (row.op == "conv2d" || row.op == "conv2d_input_grad" ||
              row.op == "conv2d_weight_grad") {
            const std::string sums = row.funcPrefix + "_accum";
            auto first = funcs.lower_bound(sums);
            EXPECT_TRUE(first != funcs.end() && first->rfind(sums, 0) == 0)
                << sums << " (" << network << ", build " << build << ")";
          }
          if (row.op != "sgd_update") {
            EXPECT_EQ(row.funcPrefix, asIdentifier(row.name))
                << network << ", build " << build;
            continue;
          }
          const std::string layer =
              asIdentifier(row.name.substr(0, row.name.find(' ')));
          EXPECT_EQ(row.funcPrefix.rfind(layer + "_", 0), 0u)
              << row.funcPrefix << " (" << network << ")";
          EXPECT_EQ(row.funcPrefix.substr(row.funcPrefix.size() - 4), "_sgd")
              << row.funcPrefix << " (" << network << ")";
        }
    }
  }
}

} // namespace
} // namespace cnnc
