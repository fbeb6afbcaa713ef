#ifndef CNN_PASSES_TD
#define CNN_PASSES_TD

include "mlir/Pass/PassBase.td"

def InferShapes : Pass<"cnn-infer-shapes", "::mlir::FuncOp"> {
  let summary = "Refine every cnn op's result type from its shape rule";
  let description = [{
    Walks each function in order and replaces the result types of ops that
    implement InferTypeOpInterface by their inferred types, then updates the
    function's result types to match what it returns.
  }];
  let constructor = "::cnn::createInferShapesPass()";
}

#endif // CNN_PASSES_TD
