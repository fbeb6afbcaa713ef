// Activations and their gradients (formulas in cnnc/halide/Activations.h),
// and the element-wise add.
#include "../OpLowerings.h"

#include "cnnc/halide/Activations.h"

namespace cnnc::lowering {

namespace hla = hl::activations;

namespace {

/// An activation: `formula` of each element of the op's input.
template <typename OpTy>
void lowerActivation(OpTy op, LoweringContext &cx,
                     const hl::ElementFormula &formula) {
  cx.define(
      op, hl::elementwise(cx.tensor(op.getInput()), formula, cx.funcName(op)));
}

/// A gradient from the activation's stored result y (the monotonic ones).
template <typename OpTy>
void lowerGradOfResult(OpTy op, LoweringContext &cx,
                       const hl::ElementGradFormula &formula) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getResultValue()),
                                    cx.tensor(op.getGrad()), formula,
                                    cx.funcName(op)));
}

/// A gradient from the activation's input x (SiLU, GELU, Hardswish).
template <typename OpTy>
void lowerGradOfInput(OpTy op, LoweringContext &cx,
                      const hl::ElementGradFormula &formula) {
  cx.define(op, hl::elementwiseGrad(cx.tensor(op.getInputValue()),
                                    cx.tensor(op.getGrad()), formula,
                                    cx.funcName(op)));
}

float real(llvm::APFloat value) { return float(value.convertToDouble()); }

} // namespace

void lowerOp(cnn::ReluOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::relu);
}

void lowerOp(cnn::TanhOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::tanh);
}

void lowerOp(cnn::SigmoidOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::sigmoid);
}

void lowerOp(cnn::LeakyReluOp op, LoweringContext &cx) {
  const float slope = real(op.getNegativeSlope());
  lowerActivation(op, cx, [slope](const Halide::Expr &x) {
    return hla::leakyRelu(x, slope);
  });
}

void lowerOp(cnn::EluOp op, LoweringContext &cx) {
  const float alpha = real(op.getAlpha());
  lowerActivation(
      op, cx, [alpha](const Halide::Expr &x) { return hla::elu(x, alpha); });
}

void lowerOp(cnn::HardtanhOp op, LoweringContext &cx) {
  const float lo = real(op.getMinVal()), hi = real(op.getMaxVal());
  lowerActivation(op, cx, [lo, hi](const Halide::Expr &x) {
    return hla::hardtanh(x, lo, hi);
  });
}

void lowerOp(cnn::HardsigmoidOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::hardsigmoid);
}

void lowerOp(cnn::SiluOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::silu);
}

void lowerOp(cnn::GeluOp op, LoweringContext &cx) {
  const bool tanh = op.getApproximate() == "tanh";
  lowerActivation(op, cx,
                  [tanh](const Halide::Expr &x) { return hla::gelu(x, tanh); });
}

void lowerOp(cnn::HardswishOp op, LoweringContext &cx) {
  lowerActivation(op, cx, hla::hardswish);
}

void lowerOp(cnn::SiluGradOp op, LoweringContext &cx) {
  lowerGradOfInput(op, cx, hla::siluGrad);
}

void lowerOp(cnn::GeluGradOp op, LoweringContext &cx) {
  const bool tanh = op.getApproximate() == "tanh";
  lowerGradOfInput(op, cx,
                   [tanh](const Halide::Expr &x, const Halide::Expr &dy) {
                     return hla::geluGrad(x, dy, tanh);
                   });
}

void lowerOp(cnn::HardswishGradOp op, LoweringContext &cx) {
  lowerGradOfInput(op, cx, hla::hardswishGrad);
}

void lowerOp(cnn::ReluGradOp op, LoweringContext &cx) {
  lowerGradOfResult(op, cx, hla::reluGrad);
}

void lowerOp(cnn::TanhGradOp op, LoweringContext &cx) {
  lowerGradOfResult(op, cx, hla::tanhGrad);
}

void lowerOp(cnn::SigmoidGradOp op, LoweringContext &cx) {
  lowerGradOfResult(op, cx, hla::sigmoidGrad);
}

void lowerOp(cnn::LeakyReluGradOp op, LoweringContext &cx) {
  const float slope = real(op.getNegativeSlope());
  lowerGradOfResult(op, cx,
                    [slope](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::leakyReluGrad(y, dy, slope);
                    });
}

void lowerOp(cnn::EluGradOp op, LoweringContext &cx) {
  const float alpha = real(op.getAlpha());
  lowerGradOfResult(op, cx,
                    [alpha](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::eluGrad(y, dy, alpha);
                    });
}

void lowerOp(cnn::HardtanhGradOp op, LoweringContext &cx) {
  const float lo = real(op.getMinVal()), hi = real(op.getMaxVal());
  lowerGradOfResult(op, cx,
                    [lo, hi](const Halide::Expr &y, const Halide::Expr &dy) {
                      return hla::hardtanhGrad(y, dy, lo, hi);
                    });
}

void lowerOp(cnn::HardsigmoidGradOp op, LoweringContext &cx) {
  lowerGradOfResult(op, cx, hla::hardsigmoidGrad);
}

/// A residual add, or the sum of a value's gradients in the training step.
void lowerOp(cnn::AddOp op, LoweringContext &cx) {
  cx.define(op, hl::add(cx.tensor(op.getLhs()), cx.tensor(op.getRhs()),
                        cx.funcName(op)));
}

} // namespace cnnc::lowering
