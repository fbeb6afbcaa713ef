// Activations and their gradients (formulas in cnnc/halide/Activations.h),
// and the element-wise add.
#include "../OpLowerings.h"

#include "cnnc/halide/Activations.h"

namespace cnnc::lowering {

namespace hla = hl::activations;

void lowerOp(cnn::ReluOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::relu,
                                cx.funcName(op)));
}

void lowerOp(cnn::TanhOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::tanh,
                                cx.funcName(op)));
}

void lowerOp(cnn::SigmoidOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::sigmoid,
                                cx.funcName(op)));
}

void lowerOp(cnn::LeakyReluOp op, LoweringContext &cx) {
  const float slope = float(op.getNegativeSlope().convertToDouble());
  cx.define(op, hl::elementwise(
                    cx.tensor(op.getInput()),
                    [slope](const Halide::Expr &x) {
                      return hla::leakyRelu(x, slope);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::EluOp op, LoweringContext &cx) {
  const float alpha = float(op.getAlpha().convertToDouble());
  cx.define(op,
            hl::elementwise(
                cx.tensor(op.getInput()),
                [alpha](const Halide::Expr &x) { return hla::elu(x, alpha); },
                cx.funcName(op)));
}

void lowerOp(cnn::HardtanhOp op, LoweringContext &cx) {
  const float lo = float(op.getMinVal().convertToDouble());
  const float hi = float(op.getMaxVal().convertToDouble());
  cx.define(op, hl::elementwise(
                    cx.tensor(op.getInput()),
                    [lo, hi](const Halide::Expr &x) {
                      return hla::hardtanh(x, lo, hi);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::HardsigmoidOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::hardsigmoid,
                                cx.funcName(op)));
}

void lowerOp(cnn::SiluOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::silu,
                                cx.funcName(op)));
}

void lowerOp(cnn::GeluOp op, LoweringContext &cx) {
  const bool tanh = op.getApproximate() == "tanh";
  cx.define(op,
            hl::elementwise(
                cx.tensor(op.getInput()),
                [tanh](const Halide::Expr &x) { return hla::gelu(x, tanh); },
                cx.funcName(op)));
}

void lowerOp(cnn::HardswishOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwise(cx.tensor(op.getInput()), hla::hardswish,
                                cx.funcName(op)));
}

// Gradients of SiLU, GELU and Hardswish read the activation's input x.
void lowerOp(cnn::SiluGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getInputValue()),
                                    cx.tensor(op.getGrad()), hla::siluGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::GeluGradOp op, LoweringContext &cx) {
  const bool tanh = op.getApproximate() == "tanh";
  cx.define(op, hl::elementwiseGrad(
                    cx.tensor(op.getInputValue()), cx.tensor(op.getGrad()),
                    [tanh](const Halide::Expr &x, const Halide::Expr &dy) {
                      return hla::geluGrad(x, dy, tanh);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::HardswishGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getInputValue()),
                                    cx.tensor(op.getGrad()), hla::hardswishGrad,
                                    cx.funcName(op)));
}

// Activation gradients read the activation's stored result y.
void lowerOp(cnn::ReluGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::reluGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::TanhGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::tanhGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::SigmoidGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), hla::sigmoidGrad,
                                    cx.funcName(op)));
}

void lowerOp(cnn::LeakyReluGradOp op, LoweringContext &cx) {
  const float slope = float(op.getNegativeSlope().convertToDouble());
  cx.define(op, hl::elementwiseGrad(
                    cx.tensor(op.getResultValue()), cx.tensor(op.getGrad()),
                    [slope](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::leakyReluGrad(y, dy, slope);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::EluGradOp op, LoweringContext &cx) {
  const float alpha = float(op.getAlpha().convertToDouble());
  cx.define(op, hl::elementwiseGrad(
                    cx.tensor(op.getResultValue()), cx.tensor(op.getGrad()),
                    [alpha](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::eluGrad(y, dy, alpha);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::HardtanhGradOp op, LoweringContext &cx) {
  const float lo = float(op.getMinVal().convertToDouble());
  const float hi = float(op.getMaxVal().convertToDouble());
  cx.define(op, hl::elementwiseGrad(
                    cx.tensor(op.getResultValue()), cx.tensor(op.getGrad()),
                    [lo, hi](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::hardtanhGrad(y, dy, lo, hi);
                    },
                    cx.funcName(op)));
}

void lowerOp(cnn::HardsigmoidGradOp op, LoweringContext &cx) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()),
                                    hla::hardsigmoidGrad, cx.funcName(op)));
}

/// A residual add, or the sum of a value's gradients in the training step.
void lowerOp(cnn::AddOp op, LoweringContext &cx) {
  cx.define(op, hl::add(cx.tensor(op.getLhs()), cx.tensor(op.getRhs()),
                        cx.funcName(op)));
}

} // namespace cnnc::lowering
