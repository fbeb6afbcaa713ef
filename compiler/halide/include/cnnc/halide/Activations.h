// PyTorch's activations and their gradients as element-wise formulas, the
// algorithms of hl::elementwise and hl::elementwiseGrad. An activation's
// gradient reads its result y (stored by the forward schedule), not its
// input. A new activation adds its pair of formulas here.
#ifndef CNNC_HALIDE_ACTIVATIONS_H
#define CNNC_HALIDE_ACTIVATIONS_H

#include <Halide.h>

namespace cnnc::hl::activations {

inline Halide::Expr relu(const Halide::Expr &x) { return Halide::max(x, 0.0f); }

/// PyTorch's threshold_backward: the gradient at x == 0 is 0. y > 0 exactly
/// where x > 0, so the rule may read the result.
inline Halide::Expr reluGrad(const Halide::Expr &y, const Halide::Expr &dy) {
  return Halide::select(y > 0.0f, dy, 0.0f);
}

inline Halide::Expr tanh(const Halide::Expr &x) { return Halide::tanh(x); }

inline Halide::Expr tanhGrad(const Halide::Expr &y, const Halide::Expr &dy) {
  return dy * (1.0f - y * y);
}

/// 1 / (1 + e^-x): for very negative x, e^-x overflows to +inf and the
/// result is exactly 0, as in PyTorch; no cancellation near 0 or 1.
inline Halide::Expr sigmoid(const Halide::Expr &x) {
  return 1.0f / (1.0f + Halide::exp(-x));
}

inline Halide::Expr sigmoidGrad(const Halide::Expr &y, const Halide::Expr &dy) {
  return dy * ((1.0f - y) * y);
}

} // namespace cnnc::hl::activations

#endif // CNNC_HALIDE_ACTIVATIONS_H
