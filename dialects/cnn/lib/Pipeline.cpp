// The pass pipelines of the cnn dialect, assembled here only.
#include "cnn/CnnPasses.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

void cnn::buildTrainingPipeline(mlir::OpPassManager &pm) {
  pm.addNestedPass<mlir::FuncOp>(createInferShapesPass());
  pm.addPass(createAutodiffPass());
}
