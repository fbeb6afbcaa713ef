// PyTorch's activations and their gradients as element-wise formulas, the
// algorithms of hl::elementwise and hl::elementwiseGrad. A monotonic
// activation's gradient reads its result y (stored by the forward schedule),
// not its input; the others' (SiLU, GELU, Hardswish) read the input x. A new
// activation adds its pair of formulas here.
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

/// negative_slope >= 0: y > 0 exactly where x > 0 (at x == 0 the slope
/// applies, as in PyTorch).
inline Halide::Expr leakyRelu(const Halide::Expr &x, float slope) {
  return Halide::select(x > 0.0f, x, x * slope);
}

inline Halide::Expr leakyReluGrad(const Halide::Expr &y, const Halide::Expr &dy,
                                  float slope) {
  return Halide::select(y > 0.0f, dy, dy * slope);
}

/// alpha >= 0; where x <= 0, dy/dx = alpha * e^x = y + alpha.
inline Halide::Expr elu(const Halide::Expr &x, float alpha) {
  return Halide::select(x > 0.0f, x, alpha * (Halide::exp(x) - 1.0f));
}

inline Halide::Expr eluGrad(const Halide::Expr &y, const Halide::Expr &dy,
                            float alpha) {
  return Halide::select(y > 0.0f, dy, dy * (y + alpha));
}

/// min_val < max_val. The gradient is 0 at the limits (PyTorch's
/// hardtanh_backward), where y equals them.
inline Halide::Expr hardtanh(const Halide::Expr &x, float lo, float hi) {
  return Halide::clamp(x, lo, hi);
}

inline Halide::Expr hardtanhGrad(const Halide::Expr &y, const Halide::Expr &dy,
                                 float lo, float hi) {
  return Halide::select(y > lo && y < hi, dy, 0.0f);
}

/// PyTorch's relu6(x + 3) / 6; 0 < y < 1 exactly where -3 < x < 3.
inline Halide::Expr hardsigmoid(const Halide::Expr &x) {
  return Halide::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
}

inline Halide::Expr hardsigmoidGrad(const Halide::Expr &y,
                                    const Halide::Expr &dy) {
  return Halide::select(y > 0.0f && y < 1.0f, dy / 6.0f, 0.0f);
}

// SiLU, GELU and Hardswish are not monotonic: their gradients read the
// input x.

/// PyTorch's x / (1 + e^-x).
inline Halide::Expr silu(const Halide::Expr &x) {
  return x / (1.0f + Halide::exp(-x));
}

inline Halide::Expr siluGrad(const Halide::Expr &x, const Halide::Expr &dy) {
  Halide::Expr s = 1.0f / (1.0f + Halide::exp(-x));
  return dy * s * (1.0f + x * (1.0f - s));
}

/// GELU, PyTorch's formulas: approximate none, x * Phi(x) with Phi from
/// erf; tanh, x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
inline Halide::Expr gelu(const Halide::Expr &x, bool tanhApproximation) {
  if (tanhApproximation) {
    const float beta = 0.7978845608028654f, kappa = 0.044715f;
    return 0.5f * x * (1.0f + Halide::tanh(beta * (x + kappa * x * x * x)));
  }
  return x * 0.5f * (1.0f + Halide::erf(x * 0.7071067811865476f));
}

inline Halide::Expr geluGrad(const Halide::Expr &x, const Halide::Expr &dy,
                             bool tanhApproximation) {
  if (tanhApproximation) {
    const float beta = 0.7978845608028654f, kappa = 0.044715f;
    Halide::Expr t = Halide::tanh(beta * (x + kappa * x * x * x));
    Halide::Expr right = 1.0f + t;
    Halide::Expr rightDerivative =
        (1.0f - t * t) * beta * (1.0f + 3.0f * kappa * x * x);
    return dy * (0.5f * right + 0.5f * x * rightDerivative);
  }
  Halide::Expr cdf = 0.5f * (1.0f + Halide::erf(x * 0.7071067811865476f));
  Halide::Expr pdf = Halide::exp(-0.5f * x * x) * 0.3989422804014327f;
  return dy * (cdf + x * pdf);
}

/// PyTorch's x * relu6(x + 3) / 6.
inline Halide::Expr hardswish(const Halide::Expr &x) {
  return x * Halide::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
}

/// PyTorch's hardswish_backward: 0 below -3, x / 3 + 1/2 up to 3, then 1.
inline Halide::Expr hardswishGrad(const Halide::Expr &x,
                                  const Halide::Expr &dy) {
  return Halide::select(x < -3.0f, 0.0f, x <= 3.0f, dy * (x / 3.0f + 0.5f), dy);
}

} // namespace cnnc::hl::activations

#endif // CNNC_HALIDE_ACTIVATIONS_H
