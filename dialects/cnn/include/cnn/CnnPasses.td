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

def Autodiff : Pass<"cnn-autodiff", "::mlir::ModuleOp"> {
  let summary = "Build func @train_step: forward, loss, backward, SGD update";
  let description = [{
    Clones func @forward into func @train_step(%input, %labels) -> loss,
    appends the mean softmax cross-entropy, then walks the forward ops in
    reverse, asking each op's gradient rule (DifferentiableOp) for the
    gradients of the operands that need one: those that depend on a
    trainable parameter. Frozen parameters, and everything only they would
    need, get no gradient. Each trainable parameter ends in cnn.sgd_update.
  }];
  let constructor = "::cnn::createAutodiffPass()";
}

#endif // CNN_PASSES_TD
