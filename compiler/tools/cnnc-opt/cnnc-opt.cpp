// cnnc-opt: mlir-opt for the cnn dialect (round-trips, passes, lit tests).
#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<cnn::CnnDialect, mlir::StandardOpsDialect>();
  cnn::registerCnnPasses();
  mlir::PassPipelineRegistration<>(
      "cnn-training-pipeline",
      "Build func @train_step from func @forward as cnnc does: "
      "cnn-infer-shapes on every function, then cnn-autodiff",
      cnn::buildTrainingPipeline);
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "cnn dialect optimizer\n", registry));
}
