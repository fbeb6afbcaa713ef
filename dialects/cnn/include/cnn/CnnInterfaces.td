#ifndef CNN_INTERFACES_TD
#define CNN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Cnn_DifferentiableOp : OpInterface<"DifferentiableOp"> {
  let description = [{
    An op with a gradient rule: given the gradient of the loss with respect
    to its result, it builds ops computing the gradients with respect to the
    operands that need one. Each op's rule lives in GradientRules.cpp.
  }];
  let cppNamespace = "::cnn";
  let methods = [
    InterfaceMethod<
      /*desc=*/[{Builds the gradients of the operands marked in `needed`
        (one flag per operand) at the builder's insertion point. Sets
        `operandGrads` to one value per operand, null where not needed.}],
      /*retTy=*/"void",
      /*methodName=*/"buildGradients",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::mlir::Value":$resultGrad,
                    "::llvm::ArrayRef<bool>":$needed,
                    "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)
    >,
  ];
}

def Cnn_FlopCountOp : OpInterface<"FlopCountOp"> {
  let description = [{
    An op whose arithmetic is worth a GFLOP/s figure: convolutions and
    matrix products, forward and backward. `cnnc summary` and the profiled
    library's per-op table (`cnnc bench`) report its FLOPs.
  }];
  let cppNamespace = "::cnn";
  let methods = [
    InterfaceMethod<
      /*desc=*/[{FLOPs per sample of the batch (a multiply-add counts 2).}],
      /*retTy=*/"int64_t",
      /*methodName=*/"flopsPerSample"
    >,
  ];
}

#endif // CNN_INTERFACES_TD
