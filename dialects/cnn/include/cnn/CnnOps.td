#ifndef CNN_OPS_TD
#define CNN_OPS_TD

include "cnn/CnnDialect.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "cnn/CnnInterfaces.td"

def Cnn_F32Tensor : TensorOf<[F32]>;
def Cnn_LabelTensor : 1DTensorOf<[I64]>;

// [h, w]: a kernel size, stride, padding, dilation or spatial size.
def Cnn_PairAttr : Confined<I64ArrayAttr, [ArrayCount<2>]>;

// The op is built by cnn-autodiff for the training step and is never
// differentiated itself: it says so instead of having a gradient rule.
def Cnn_NotDifferentiable : NativeOpTrait<"NotDifferentiable"> {
  let cppNamespace = "::cnn::OpTrait";
}

// Each result element reads only the same element of the op's tensor
// operands (and per-channel values): a schedule may compute the op inside
// the loops of its producer (conv -> batch norm -> add -> relu stored once).
def Cnn_Pointwise : NativeOpTrait<"Pointwise"> {
  let cppNamespace = "::cnn::OpTrait";
}

// Ops whose result type follows from operands and attributes through a shape
// rule. Each defines `inferShape`, which adapts its typed operands and
// attributes to a free function of ShapeRules.h; inferReturnTypes checks the
// attributes and calls it. Results may be written less refined than inferred
// (tensor<*xf32>, '?' dimensions) until the cnn-infer-shapes pass refines
// them.
class Cnn_InferredOp<string mnemonic, list<Trait> traits = []>
    : Cnn_Op<mnemonic, traits # [NoSideEffect, InferTypeOpInterface]> {
  let extraClassDeclaration = [{
    /// The result shape by the op's shape rule, or the rule's message. Every
    /// operand is ranked and the attributes are verified.
    static ::cnn::shape::ShapeResult inferShape(Adaptor op);

    static ::mlir::LogicalResult inferReturnTypes(
        ::mlir::MLIRContext *context,
        ::llvm::Optional<::mlir::Location> location,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attributes,
        ::mlir::RegionRange regions,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferred) {
      return ::cnn::inferReturnTypesByShapeRule<ConcreteOpType>(
          context, location, operands, attributes, regions, inferred);
    }
    static bool isCompatibleReturnTypes(::mlir::TypeRange inferred,
                                        ::mlir::TypeRange actual) {
      return ::cnn::isRefinableTo(actual, inferred);
    }
  }];
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Cnn_ParameterOp : Cnn_Op<"parameter", [NoSideEffect, Cnn_NotDifferentiable]> {
  let summary = "A named tensor of the network's state (weight, bias or buffer)";
  let description = [{
    Names are PyTorch state_dict names, e.g. "conv1.weight". The shape is
    static. A frozen parameter ({frozen}) gets no gradient and is never
    updated.

    A buffer ({buffer}, PyTorch's register_buffer, e.g. a batch norm's
    "bn1.running_mean") is state that is never trained: it gets no
    gradient and no optimizer update, but the training step may write its
    new value (cnn.batchnorm2d_stats_update). It is listed among the
    parameters in state_dict order.

    ```mlir
    %w = cnn.parameter "conv1.weight" : tensor<6x3x5x5xf32>
    %m = cnn.parameter "bn1.running_mean" {buffer} : tensor<6xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name,
                       UnitAttr:$frozen,
                       UnitAttr:$buffer);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let verifier = [{ return ::cnn::verifyParameter(*this); }];
}

def Cnn_FillOp : Cnn_InferredOp<"fill", [Cnn_NotDifferentiable]> {
  let summary = "A constant tensor of `shape`, every element `value`";
  let description = [{
    What a layer reads where PyTorch has no tensor: batchnorm2d's weight 1
    and bias 0 with affine: false, its mean 0 and variance 1 with
    track_running_stats: false (which then normalises with the batch's
    statistics in eval mode too). Not a parameter: not saved, not trained.
  }];
  let arguments = (ins F64Attr:$value, I64ArrayAttr:$shape);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Convolution and linear layers
//===----------------------------------------------------------------------===//

def Cnn_Conv2dOp : Cnn_InferredOp<"conv2d", [
    DeclareOpInterfaceMethods<Cnn_DifferentiableOp>,
    DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "2-D cross-correlation, as torch.nn.Conv2d";
  let description = [{
    input [N, C, H, W], weight [O, C/groups, kH, kW], optional bias [O].
    Zero padding; stride, padding and dilation are [h, w] pairs.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$weight,
                       Optional<Cnn_F32Tensor>:$bias,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       Cnn_PairAttr:$dilation, I64Attr:$groups);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Cnn_LinearOp : Cnn_InferredOp<"linear", [
    DeclareOpInterfaceMethods<Cnn_DifferentiableOp>,
    DeclareOpInterfaceMethods<Cnn_FlopCountOp>]> {
  let summary = "Affine map x W^T + b, as torch.nn.Linear";
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$weight,
                       Optional<Cnn_F32Tensor>:$bias);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

class Cnn_ActivationOp<string mnemonic, string torchName>
    : Cnn_InferredOp<mnemonic, [Cnn_Pointwise,
                                DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Element-wise activation, as torch.nn." # torchName;
  let arguments = (ins Cnn_F32Tensor:$input);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_ReluOp : Cnn_ActivationOp<"relu", "ReLU">;
def Cnn_TanhOp : Cnn_ActivationOp<"tanh", "Tanh">;
def Cnn_SigmoidOp : Cnn_ActivationOp<"sigmoid", "Sigmoid">;

def Cnn_LeakyReluOp : Cnn_ActivationOp<"leaky_relu", "LeakyReLU"> {
  let description = [{
    y = x > 0 ? x : negative_slope * x. negative_slope >= 0, so that the
    gradient can be read from y (PyTorch's in-place rule).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, F64Attr:$negative_slope);
}

def Cnn_EluOp : Cnn_ActivationOp<"elu", "ELU"> {
  let description = [{
    y = x > 0 ? x : alpha * (exp(x) - 1), alpha >= 0 (the gradient is read
    from y: alpha + y where y <= 0).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, F64Attr:$alpha);
}

def Cnn_HardtanhOp : Cnn_ActivationOp<"hardtanh", "Hardtanh"> {
  let description = [{
    y = min(max(x, min_val), max_val), min_val < max_val; ReLU6 is
    hardtanh(0, 6).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, F64Attr:$min_val,
                       F64Attr:$max_val);
}

def Cnn_HardsigmoidOp : Cnn_ActivationOp<"hardsigmoid", "Hardsigmoid"> {
  let description = [{ y = min(max(x + 3, 0), 6) / 6. }];
}

// These three are not monotonic: their gradients read the input x (so a
// convolution before them is stored in the training step).
def Cnn_SiluOp : Cnn_ActivationOp<"silu", "SiLU"> {
  let description = [{ y = x * sigmoid(x). }];
}

def Cnn_GeluOp : Cnn_ActivationOp<"gelu", "GELU"> {
  let description = [{
    approximate "none": y = x * Phi(x), Phi the standard normal CDF;
    "tanh": y = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, StrAttr:$approximate);
}

def Cnn_HardswishOp : Cnn_ActivationOp<"hardswish", "Hardswish"> {
  let description = [{ y = x * min(max(x + 3, 0), 6) / 6. }];
}

def Cnn_DropoutOp : Cnn_InferredOp<"dropout", [Cnn_Pointwise,
    DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Dropout, as torch.nn.Dropout (channelwise: Dropout2d)";
  let description = [{
    training = false (func @forward): the identity. training = true (func
    @train_step, switched by cnn-autodiff as PyTorch's model.train()): each
    element (channelwise: each channel of each sample, input [N, C, H, W])
    is zeroed with probability p, the others scaled by 1 / (1 - p). The
    mask is a counter-based hash of (the run's seed, the step index,
    stream, the sample, the element's index in the sample), so a step is
    reproducible and the gradient recomputes the same mask
    (docs/design.md, "Dropout masks"). stream (a uint32) tells the
    network's dropout layers apart: the importer hashes the layer's name.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, F64Attr:$p, BoolAttr:$channelwise,
                       I64Attr:$stream, BoolAttr:$training);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Element-wise sum (residual connections)
//===----------------------------------------------------------------------===//

def Cnn_AddOp : Cnn_InferredOp<"add", [Cnn_Pointwise,
                                       DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Element-wise sum of two tensors of one shape, as x + y in torch";
  let description = [{
    The residual connection of ResNet's blocks; the autodiff pass also uses
    it to sum the gradients of a value read by several ops. No broadcasting:
    both operands have the result's shape.
  }];
  let arguments = (ins Cnn_F32Tensor:$lhs, Cnn_F32Tensor:$rhs);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

def Cnn_CatOp : Cnn_InferredOp<"cat", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Concatenation along one dimension, as torch.cat";
  let description = [{
    Two or more tensors of one rank whose sizes agree but along dim (1 ..
    rank - 1; the batch is 0), in order: SqueezeNet's fire modules,
    Inception blocks and DenseNet join channels with dim 1.
  }];
  let arguments = (ins Variadic<Cnn_F32Tensor>:$inputs, I64Attr:$dim);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Pooling and reshaping
//===----------------------------------------------------------------------===//

def Cnn_MaxPool2dOp : Cnn_InferredOp<"maxpool2d", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "2-D max pooling with -inf padding, as torch.nn.MaxPool2d";
  let description = [{
    ceil_mode (present: PyTorch's ceil_mode=True) rounds the output size up;
    the extra windows are clipped to the input.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_PairAttr:$kernel_size,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       Cnn_PairAttr:$dilation, UnitAttr:$ceil_mode);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_AvgPool2dOp : Cnn_InferredOp<"avgpool2d", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "2-D average pooling, as torch.nn.AvgPool2d";
  let description = [{
    With count_include_pad (PyTorch's default) zero padding counts in the
    divisor; without it only the input elements under the window do.
    ceil_mode as maxpool2d's (a window past the padded input divides by
    its part inside it); divisor_override, when present, is every window's
    divisor.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_PairAttr:$kernel_size,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       BoolAttr:$count_include_pad, UnitAttr:$ceil_mode,
                       OptionalAttr<I64Attr>:$divisor_override);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_AdaptiveAvgPool2dOp : Cnn_InferredOp<"adaptive_avgpool2d", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Adaptive average pooling, as torch.nn.AdaptiveAvgPool2d";
  let description = [{
    Output cell (i, j) averages input rows floor(i*H/oh) .. ceil((i+1)*H/oh)
    and likewise for columns; output_size [1, 1] is global average pooling.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_PairAttr:$output_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

def Cnn_BatchNorm2dOp : Cnn_InferredOp<"batchnorm2d", [Cnn_Pointwise,
    DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Batch normalisation over (N, H, W), as torch.nn.BatchNorm2d";
  let description = [{
    input [N, C, H, W]; weight, bias, running_mean, running_var [C] (the
    last two are buffers). y = (x - mean) / sqrt(var + eps) * weight + bias
    per channel, with
      training = false (eval mode, func @forward): mean, var the running
        statistics;
      training = true (func @train_step): the batch mean and the biased
        batch variance over (N, H, W). The running statistics are then
        updated by a cnn.batchnorm2d_stats_update of the same input, which
        cnn-autodiff adds; momentum is its factor (PyTorch's).
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$weight,
                       Cnn_F32Tensor:$bias, Cnn_F32Tensor:$running_mean,
                       Cnn_F32Tensor:$running_var, F64Attr:$eps,
                       F64Attr:$momentum, BoolAttr:$training);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` functional-type(operands, results)
  }];
}

class Cnn_SoftmaxOpBase<string mnemonic, string torchName>
    : Cnn_InferredOp<mnemonic, [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Normalised exponentials along one dimension, as torch.nn." # torchName;
  let description = [{
    Along dim (1 .. rank - 1; the batch is 0), computed from x - max for
    range, as PyTorch does. The gradient reads the result.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, I64Attr:$dim);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_SoftmaxOp : Cnn_SoftmaxOpBase<"softmax", "Softmax">;
def Cnn_LogSoftmaxOp : Cnn_SoftmaxOpBase<"log_softmax", "LogSoftmax">;

def Cnn_AdaptiveMaxPool2dOp : Cnn_InferredOp<"adaptive_maxpool2d", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Adaptive max pooling, as torch.nn.AdaptiveMaxPool2d";
  let description = [{
    The windows of adaptive_avgpool2d; each output is the window's maximum.
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_PairAttr:$output_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_Pad2dOp : Cnn_InferredOp<"pad2d", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Pads height and width, as torch.nn.functional.pad";
  let description = [{
    begin [top, left] and end [bottom, right] rows and columns filled as
    mode says: conv2d's padding_mode names, "zeros", "reflect" (mirrored
    without the edge), "replicate" (the edge repeated) or "circular"
    (wrapped around). conv2d pads through it where its own symmetric zero
    padding cannot say what the layer asks (padding_mode, or an even
    kernel with padding 'same').
  }];
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_PairAttr:$begin,
                       Cnn_PairAttr:$end, StrAttr:$mode);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Cnn_FlattenOp : Cnn_InferredOp<"flatten", [DeclareOpInterfaceMethods<Cnn_DifferentiableOp>]> {
  let summary = "Flattens all but the batch dimension, as torch.nn.Flatten";
  let arguments = (ins Cnn_F32Tensor:$input);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// The training step: the loss, one gradient op per forward op family (each
// lowered to its own Halide algorithm), and the updates. cnn-autodiff builds
// them and never differentiates them again (Cnn_NotDifferentiable).
//===----------------------------------------------------------------------===//

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

def Cnn_DropoutGradOp : Cnn_TrainingOp<"dropout_grad"> {
  let summary = "Dropout gradient: grad times the forward mask, recomputed";
  let arguments = (ins Cnn_F32Tensor:$grad, F64Attr:$p, BoolAttr:$channelwise,
                       I64Attr:$stream);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_ReluGradOp : Cnn_ActivationGradOp<"relu_grad", "grad * (y > 0)">;
def Cnn_TanhGradOp : Cnn_ActivationGradOp<"tanh_grad", "grad * (1 - y^2)">;
def Cnn_SigmoidGradOp : Cnn_ActivationGradOp<"sigmoid_grad", "grad * y * (1 - y)">;
def Cnn_LeakyReluGradOp
    : Cnn_ActivationGradOp<"leaky_relu_grad",
                           "y > 0 ? grad : grad * negative_slope"> {
  let arguments = (ins Cnn_F32Tensor:$result_value, Cnn_F32Tensor:$grad,
                       F64Attr:$negative_slope);
}
def Cnn_EluGradOp
    : Cnn_ActivationGradOp<"elu_grad", "y > 0 ? grad : grad * (y + alpha)"> {
  let arguments = (ins Cnn_F32Tensor:$result_value, Cnn_F32Tensor:$grad,
                       F64Attr:$alpha);
}
def Cnn_HardtanhGradOp
    : Cnn_ActivationGradOp<"hardtanh_grad",
                           "min_val < y < max_val ? grad : 0"> {
  let arguments = (ins Cnn_F32Tensor:$result_value, Cnn_F32Tensor:$grad,
                       F64Attr:$min_val, F64Attr:$max_val);
}
def Cnn_HardsigmoidGradOp
    : Cnn_ActivationGradOp<"hardsigmoid_grad", "0 < y < 1 ? grad / 6 : 0">;

//===----------------------------------------------------------------------===//
// Gradients of activations from their input (not monotonic: the result does
// not tell where x lay)
//===----------------------------------------------------------------------===//

class Cnn_ActivationInputGradOp<string mnemonic, string rule>
    : Cnn_TrainingOp<mnemonic> {
  let summary = "Activation gradient from its input x: " # rule;
  let arguments = (ins Cnn_F32Tensor:$input_value, Cnn_F32Tensor:$grad);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input_value `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_SiluGradOp
    : Cnn_ActivationInputGradOp<"silu_grad",
                                "grad * s * (1 + x * (1 - s)), s = sigmoid(x)">;
def Cnn_GeluGradOp
    : Cnn_ActivationInputGradOp<"gelu_grad", "grad * d/dx gelu(x)"> {
  let arguments = (ins Cnn_F32Tensor:$input_value, Cnn_F32Tensor:$grad,
                       StrAttr:$approximate);
}
def Cnn_HardswishGradOp
    : Cnn_ActivationInputGradOp<"hardswish_grad",
                                "x < -3 ? 0 : x <= 3 ? grad * (x / 3 + 1/2) : grad">;

//===----------------------------------------------------------------------===//
// Gradients of pooling and reshaping
//===----------------------------------------------------------------------===//

def Cnn_MaxPool2dGradOp : Cnn_TrainingOp<"maxpool2d_grad"> {
  let summary = "Gradient of maxpool2d: to the first maximum of each window";
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad,
                       Cnn_PairAttr:$kernel_size, Cnn_PairAttr:$stride,
                       Cnn_PairAttr:$padding, Cnn_PairAttr:$dilation,
                       UnitAttr:$ceil_mode);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_AvgPool2dGradOp : Cnn_TrainingOp<"avgpool2d_grad"> {
  let summary = "Gradient of avgpool2d";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_PairAttr:$kernel_size,
                       Cnn_PairAttr:$stride, Cnn_PairAttr:$padding,
                       BoolAttr:$count_include_pad, Cnn_PairAttr:$input_size,
                       UnitAttr:$ceil_mode,
                       OptionalAttr<I64Attr>:$divisor_override);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_AdaptiveAvgPool2dGradOp : Cnn_TrainingOp<"adaptive_avgpool2d_grad"> {
  let summary = "Gradient of adaptive_avgpool2d";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_PairAttr:$input_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

class Cnn_SoftmaxGradOpBase<string mnemonic, string rule>
    : Cnn_TrainingOp<mnemonic> {
  let summary = "Gradient from the result y along dim: " # rule;
  let arguments = (ins Cnn_F32Tensor:$result_value, Cnn_F32Tensor:$grad,
                       I64Attr:$dim);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$result_value `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_SoftmaxGradOp
    : Cnn_SoftmaxGradOpBase<"softmax_grad", "y * (grad - sum(grad * y))">;
def Cnn_LogSoftmaxGradOp
    : Cnn_SoftmaxGradOpBase<"log_softmax_grad", "grad - exp(y) * sum(grad)">;

def Cnn_AdaptiveMaxPool2dGradOp : Cnn_TrainingOp<"adaptive_maxpool2d_grad"> {
  let summary = "Gradient of adaptive_maxpool2d: to the first maximum of "
                "each window";
  let arguments = (ins Cnn_F32Tensor:$input, Cnn_F32Tensor:$grad);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_Pad2dGradOp : Cnn_TrainingOp<"pad2d_grad"> {
  let summary = "Gradient of pad2d: each input element sums the gradient "
                "of every padded position that copies it";
  let arguments = (ins Cnn_F32Tensor:$grad, Cnn_PairAttr:$begin,
                       Cnn_PairAttr:$end, StrAttr:$mode,
                       Cnn_PairAttr:$input_size);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
}

def Cnn_SliceOp : Cnn_TrainingOp<"slice"> {
  let summary = "length elements from start along dim (the gradient of cat)";
  let arguments = (ins Cnn_F32Tensor:$input, I64Attr:$dim, I64Attr:$start,
                       I64Attr:$length);
  let results = (outs Cnn_F32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
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

#endif // CNN_OPS_TD
