#ifndef CNN_DIALECT_TD
#define CNN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Cnn_Dialect : Dialect {
  let name = "cnn";
  let summary = "Convolutional neural network layers with PyTorch semantics";
  let description = [{
    Value-semantics tensor ops for convolutional networks. Activations are
    NCHW float32 tensors whose batch dimension is dynamic; weights are OIHW.
    Every op infers its result type from a free shape rule (ShapeRules.h).
  }];
  let cppNamespace = "::cnn";
  let emitAccessorPrefix = kEmitAccessorPrefix_Both;
}

class Cnn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Cnn_Dialect, mnemonic, traits>;

#endif // CNN_DIALECT_TD
