// cnn-infer-shapes: refines result types in program order from each op's
// shape rule, then makes the function signature agree with its returns.
#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"

#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/Pass/Pass.h"

using namespace mlir;

namespace {
#define GEN_PASS_CLASSES
#include "cnn/CnnPasses.h.inc"

struct InferShapesPass : public InferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    FuncOp func = getOperation();
    WalkResult walk = func.walk([](InferTypeOpInterface op) {
      SmallVector<Type, 1> inferred;
      if (failed(op.inferReturnTypes(op->getContext(), op->getLoc(),
                                     op->getOperands(), op->getAttrDictionary(),
                                     op->getRegions(), inferred)))
        return WalkResult::interrupt();
      for (auto [result, type] : llvm::zip(op->getResults(), inferred))
        result.setType(type);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // Results of the function follow what it returns.
    func.walk([&](ReturnOp ret) {
      auto type = FunctionType::get(
          func.getContext(), func.getType().getInputs(), ret.getOperandTypes());
      func.setType(type);
    });
  }
};
} // namespace

std::unique_ptr<Pass> cnn::createInferShapesPass() {
  return std::make_unique<InferShapesPass>();
}
