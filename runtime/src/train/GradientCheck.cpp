#include "cnnc/train/GradientCheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace cnnc::rt {

namespace {

double dot(const std::vector<double> &a, const float *b) {
  double sum = 0;
  for (size_t j = 0; j < a.size(); ++j)
    sum += a[j] * b[j];
  return sum;
}

double norm(const std::vector<double> &a) {
  double sum = 0;
  for (double v : a)
    sum += v * v;
  return std::sqrt(sum);
}

void scale(std::vector<double> &a, double factor) {
  for (double &v : a)
    v *= factor;
}

// A standard normal vector from `gen` (Box-Muller on 53-bit uniforms:
// std::normal_distribution is implementation-defined).
std::vector<double> gaussian(size_t n, std::mt19937_64 &gen) {
  std::vector<double> v(n);
  const double twoPi = 6.283185307179586;
  for (size_t j = 0; j < n; j += 2) {
    double u1 = (static_cast<double>(gen() >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
    double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    v[j] = r * std::cos(twoPi * u2);
    if (j + 1 < n)
      v[j + 1] = r * std::sin(twoPi * u2);
  }
  return v;
}

// Direction k of a tensor whose gradient is `g` (unit length): the
// gradient's own for k = 0, else its sum with a random unit vector. A zero
// gradient gets random directions only.
std::vector<double> direction(const float *g, size_t n, int k,
                              std::mt19937_64 &gen) {
  std::vector<double> d(g, g + n);
  double gNorm = norm(d);
  if (gNorm > 0)
    scale(d, 1.0 / gNorm);
  if (k > 0 || gNorm == 0) {
    std::vector<double> r = gaussian(n, gen);
    scale(r, 1.0 / norm(r));
    std::vector<double> mixed = d;
    for (size_t j = 0; j < n; ++j)
      mixed[j] = (gNorm > 0 ? d[j] : 0.0) + r[j];
    // A random vector opposite to the gradient cancels it (a tensor of one
    // element, half the time): then the random one alone.
    d = norm(mixed) > 1e-6 ? mixed : r;
  }
  scale(d, 1.0 / norm(d));
  return d;
}

} // namespace

Expected<std::vector<ParameterGradientCheck>>
checkGradients(const std::vector<ParameterSpec> &specs,
               const std::vector<const Tensor *> &parameters,
               const std::vector<bool> &checked,
               const std::vector<const Tensor *> &gradients,
               const LossFunction &loss, const GradientCheckOptions &options) {
  Expected<double> base = loss(parameters);
  if (!base)
    return base.error();
  if (!std::isfinite(*base))
    return Error("the loss is " + std::to_string(*base) +
                 " at the starting parameters: nothing to check");
  // float32 rounding of the loss: loss changes below a few of its rounding
  // units are noise, however they compare (a zero gradient, as a bias's
  // before a batch norm has, meets noise on both sides).
  const double noise = 64 * std::numeric_limits<float>::epsilon() *
                       std::max(std::fabs(*base), 1.0);

  std::vector<ParameterGradientCheck> results;
  std::vector<const Tensor *> evaluated = parameters;
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (!checked[i])
      continue;
    const Tensor &p = *parameters[i];
    const float *g = gradients[i]->f32();
    const size_t n = static_cast<size_t>(p.numElements());
    ParameterGradientCheck result;
    result.name = specs[i].name;
    result.shape = specs[i].shape;
    result.gradientNorm = norm(std::vector<double>(g, g + n));
    if (!std::isfinite(result.gradientNorm))
      return Error("the gradient of '" + result.name +
                   "' holds NaN or infinite values");
    std::seed_seq seq{static_cast<uint32_t>(options.seed),
                      static_cast<uint32_t>(options.seed >> 32),
                      static_cast<uint32_t>(i)};
    std::mt19937_64 gen(seq);

    Tensor plus(DType::F32, p.shape()), minus(DType::F32, p.shape());
    double largest = 0;
    for (size_t j = 0; j < n; ++j)
      largest = std::max(largest, std::fabs(static_cast<double>(p.f32()[j])));
    // A direction nearly orthogonal to the gradient would need a huge step:
    // steps stop at the tensor's largest value (or 1).
    const double cap = std::max(largest, 1.0);
    for (int k = 0; k < options.directions; ++k) {
      std::vector<double> d = direction(g, n, k, gen);
      const double slope = std::fabs(dot(d, g));
      double best = std::numeric_limits<double>::infinity();
      for (double relativeChange : options.relativeChanges) {
        // h so that the loss changes by about `relativeChange` of itself
        // between p - hd and p + hd.
        double change = relativeChange * std::max(std::fabs(*base), 1.0);
        double h = slope > 0 ? std::min(change / (2 * slope), cap) : cap;
        for (size_t j = 0; j < n; ++j) {
          plus.f32()[j] = static_cast<float>(p.f32()[j] + h * d[j]);
          minus.f32()[j] = static_cast<float>(p.f32()[j] - h * d[j]);
        }
        evaluated[i] = &plus;
        Expected<double> up = loss(evaluated);
        evaluated[i] = &minus;
        Expected<double> down = up ? loss(evaluated) : up;
        evaluated[i] = parameters[i];
        if (!down)
          return down.error();
        double analytic = 0;
        for (size_t j = 0; j < n; ++j)
          analytic += static_cast<double>(g[j]) *
                      (static_cast<double>(plus.f32()[j]) - minus.f32()[j]);
        double numeric = *up - *down;
        double magnitude =
            std::max({std::fabs(numeric), std::fabs(analytic), noise});
        double error = std::fabs(numeric - analytic) / magnitude;
        if (!std::isfinite(error)) // a NaN or infinite loss on the way
          error = std::numeric_limits<double>::infinity();
        best = std::min(best, error);
        if (best <= options.goodEnough)
          break;
      }
      result.errors.push_back(best);
      result.worstError = std::max(result.worstError, best);
    }
    results.push_back(std::move(result));
  }
  return results;
}

} // namespace cnnc::rt
