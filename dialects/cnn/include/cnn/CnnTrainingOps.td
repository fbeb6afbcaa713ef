// Ops of the training step: the loss, one gradient op per forward op family
// (each lowered to its own Halide algorithm), and the optimizer update.
// cnn-autodiff builds them and never differentiates them again
// (Cnn_NotDifferentiable). Included from CnnOps.td.

class Cnn_TrainingOp<string mnemonic, list<Trait> traits = []>
    : Cnn_InferredOp<mnemonic, traits # [Cnn_NotDifferentiable]>;

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def Cnn_CrossEntropyOp : Cnn_TrainingOp<"cross_entropy"> {
  let summary = "Mean softmax cross-entropy, as torch.nn.CrossEntropyLoss";
  let description = [{
    logits [N, K], labels [N] (class indices) -> the scalar batch mean of
    logsumexp(logits[n]) - logits[n, labels[n]].
  }];
  let arguments = (ins Cnn_F32Tensor:$logits, Cnn_LabelTensor:$labels);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` functional-type(operands, results)";
}

def Cnn_CrossEntropyGradOp : Cnn_TrainingOp<"cross_entropy_grad"> {
  let summary = "Gradient of the mean cross-entropy w.r.t. the logits";
  let description = [{ (softmax(logits) - onehot(labels)) / N. }];
  let arguments = (ins Cnn_F32Tensor:$logits, Cnn_LabelTensor:$labels);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Gradients of convolution and linear layers
//===----------------------------------------------------------------------===//

def Cnn_Conv2dInputGradOp : Cnn_TrainingOp<"conv2d_input_grad",
    [DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "Gradient of conv2d w.r.t. its input";
  let description = [{
    grad [N, O, Ho, Wo], weight [O, C/groups, kH, kW] -> [N, C, H, W] with
    input_size = [H, W]: a transposed convolution of the output gradient.
  }];
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_F32Tensor:$weight,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       Cnn_PairAttr:$dilation, I64Attr:$groups,
                       Cnn_PairAttr:$input_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Cnn_Conv2dWeightGradOp : Cnn_TrainingOp<"conv2d_weight_grad",
    [DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "Gradient of conv2d w.r.t. its weight";
  let description = [{
    input [N, C, H, W], grad [N, O, Ho, Wo] -> [O, C/groups, kH, kW]: a
    reduction over the batch and the output positions.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       Cnn_PairAttr:$dilation, I64Attr:$groups,
                       Cnn_PairAttr:$kernel_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_BiasGradOp : Cnn_TrainingOp<"bias_grad"> {
  let summary = "Gradient of a bias: the output gradient summed over all but dim 1";
  let arguments = (ins Cnn_F32Tensor:$grad);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_LinearInputGradOp : Cnn_TrainingOp<"linear_input_grad",
    [DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "Gradient of linear w.r.t. its input: grad W";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_F32Tensor:$weight);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Cnn_LinearWeightGradOp : Cnn_TrainingOp<"linear_weight_grad",
    [DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "Gradient of linear w.r.t. its weight: grad^T input";
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Gradients of activations (from the forward result, which is stored)
//===----------------------------------------------------------------------===//

class Cnn_ActivationGradOp<string mnemonic, string rule>
    : Cnn_TrainingOp<mnemonic> {
  let summary = "Activation gradient from its result y: " # rule;
  let arguments = (ins Cnn_F32Tensor:$result_value, Cnn_F32Tensor:$grad);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$result_value `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_ReluGradOp : Cnn_ActivationGradOp<"relu_grad", "grad * (y > 0)">;
def Cnn_TanhGradOp : Cnn_ActivationGradOp<"tanh_grad", "grad * (1 - y^2)">;
def Cnn_SigmoidGradOp : Cnn_ActivationGradOp<"sigmoid_grad", "grad * y * (1 - y)">;

//===----------------------------------------------------------------------===//
// Gradients of pooling and reshaping
//===----------------------------------------------------------------------===//

def Cnn_MaxPool2dGradOp : Cnn_TrainingOp<"maxpool2d_grad"> {
  let summary = "Gradient of maxpool2d: to the first maximum of each window";
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad,
                       Cnn_PairAttr:$kernel_size, Cnn_PairAttr:$stride,
                       Cnn_PairAttr:$padding, Cnn_PairAttr:$dilation);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_AvgPool2dGradOp : Cnn_TrainingOp<"avgpool2d_grad"> {
  let summary = "Gradient of avgpool2d";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_PairAttr:$kernel_size,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       BoolAttr:$count_include_pad, Cnn_PairAttr:$input_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_AdaptiveAvgPool2dGradOp : Cnn_TrainingOp<"adaptive_avgpool2d_grad"> {
  let summary = "Gradient of adaptive_avgpool2d";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_PairAttr:$input_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_UnflattenOp : Cnn_TrainingOp<"unflatten"> {
  let summary = "[N, C*H*W] -> [N, C, H, W] (the gradient of flatten)";
  let arguments = (ins Cnn_F32Tensor:$input, I64ArrayAttr:$shape);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Gradients and running statistics of batch normalisation
//===----------------------------------------------------------------------===//

def Cnn_BatchNorm2dInputGradOp : Cnn_TrainingOp<"batchnorm2d_input_grad"> {
  let summary = "Gradient of batchnorm2d w.r.t. its input";
  let description = [{
    input x, grad dy [N, C, H, W]; weight, running_mean, running_var [C].
    training: the batch statistics of x are differentiated too, with
    M = N*H*W and xhat = (x - mean) * invstd:
      dx = weight * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat));
    eval: dx = dy * weight / sqrt(running_var + eps).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad,
                       Cnn_F32Tensor:$weight, Cnn_F32Tensor:$running_mean,
                       Cnn_F32Tensor:$running_var, F64Attr:$eps,
                       BoolAttr:$training);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $grad `,` $weight `,` $running_mean `,` $running_var attr-dict
    `:` functional-type(operands, results)
  }];
}

def Cnn_BatchNorm2dWeightGradOp : Cnn_TrainingOp<"batchnorm2d_weight_grad"> {
  let summary = "Gradient of batchnorm2d w.r.t. its weight: sum(dy * xhat)";
  let description = [{
    input x, grad dy [N, C, H, W] -> [C], summed over (N, H, W); xhat is
    normalised with the batch statistics (training) or the running ones.
    The bias gradient is cnn.bias_grad of dy.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad,
                       Cnn_F32Tensor:$running_mean, Cnn_F32Tensor:$running_var,
                       F64Attr:$eps, BoolAttr:$training);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $grad `,` $running_mean `,` $running_var attr-dict
    `:` functional-type(operands, results)
  }];
}

def Cnn_BatchNorm2dStatsUpdateOp : Cnn_Op<"batchnorm2d_stats_update",
                                         [Cnn_NotDifferentiable]> {
  let summary = "PyTorch's running-statistics update of a training batchnorm2d";
  let description = [{
    Writes the new values of the buffers `running_mean` and `running_var`
    (each defined by a cnn.parameter {buffer}) from the batch statistics
    of `input` [N, C, H, W], with M = N*H*W:
      running_mean = (1 - momentum) * running_mean + momentum * mean
      running_var  = (1 - momentum) * running_var
                     + momentum * var * M / (M - 1)   (unbiased variance)
    Like cnn.sgd_update it has no result: the training step returns the
    new values next to the updated parameters.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$running_mean,
                       Cnn_F32Tensor:$running_var, F64Attr:$momentum);
  let assemblyFormat = [{
    $input `,` $running_mean `,` $running_var attr-dict `:`
    type($input) `,` type($running_mean) `,` type($running_var)
  }];
  let verifier = [{ return ::cnn::verifyBatchNorm2dStatsUpdate(*this); }];
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Cnn_SgdUpdateOp : Cnn_Op<"sgd_update", [AllTypesMatch<["param", "grad"]>,
                                            Cnn_NotDifferentiable]> {
  let summary = "PyTorch's SGD step for one parameter";
  let description = [{
    Updates the parameter defined by `param` (a cnn.parameter) and its
    momentum buffer, which lives next to it, from its gradient:
      g = grad + weight_decay * p
      v = first_step ? g : momentum * v + g
      p = p - lr * (nesterov ? g + momentum * v : v)   (v = g if momentum == 0)
    lr, momentum, weight_decay, nesterov and first_step are run-time inputs
    of the training step, so changing them needs no recompilation.
  }];
  let arguments = (ins Cnn_F32Tensor:$param, Cnn_F32Tensor:$grad);
  let assemblyFormat = "$param `,` $grad attr-dict `:` type($param)";
  let verifier = [{ return ::cnn::verifySgdUpdate(*this); }];
}
