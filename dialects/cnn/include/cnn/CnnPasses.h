#ifndef CNN_CNNPASSES_H
#define CNN_CNNPASSES_H

#include "mlir/Pass/Pass.h"
#include <memory>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace cnn {
std::unique_ptr<mlir::Pass> createInferShapesPass();
std::unique_ptr<mlir::Pass> createAutodiffPass();

/// Adds to a module's pass manager what builds func @train_step from
/// func @forward: cnn-infer-shapes on every function, then cnn-autodiff.
/// The one place this pipeline is assembled (cnnc, its library builder and
/// cnnc-opt's --cnn-training-pipeline).
void buildTrainingPipeline(mlir::OpPassManager &pm);

#define GEN_PASS_REGISTRATION
#include "cnn/CnnPasses.h.inc"
} // namespace cnn

#endif // CNN_CNNPASSES_H
