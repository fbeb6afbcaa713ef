#ifndef CNN_CNNPASSES_H
#define CNN_CNNPASSES_H

#include "mlir/Pass/Pass.h"
#include <memory>

namespace cnn {
std::unique_ptr<mlir::Pass> createInferShapesPass();
std::unique_ptr<mlir::Pass> createAutodiffPass();

#define GEN_PASS_REGISTRATION
#include "cnn/CnnPasses.h.inc"
} // namespace cnn

#endif // CNN_CNNPASSES_H
