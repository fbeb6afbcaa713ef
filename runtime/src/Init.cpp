#include "cnnc/Init.h"

#include "cnnc/Hash.h"

#include <cmath>
#include <map>
#include <random>

namespace cnnc::rt {

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void fillUniform(Tensor &t, double bound, uint64_t seed,
                 const std::string &name) {
  // The basis is one digit short of FNV's: kept, so that a seed gives the
  // weights it always gave.
  uint64_t h = fnv1a(name.data(), name.size(), 1469598103934665603ull);
  std::seed_seq seq{static_cast<uint32_t>(seed),
                    static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(h),
                    static_cast<uint32_t>(h >> 32)};
  std::mt19937_64 gen(seq);
  // std::uniform_real_distribution is implementation-defined; this is not.
  const float hi = static_cast<float>(bound);
  float *p = t.f32();
  for (int64_t i = 0; i < t.numElements(); ++i) {
    double u = static_cast<double>(gen() >> 11) * 0x1.0p-53; // [0, 1)
    float v = static_cast<float>(-bound + 2.0 * bound * u);
    // Rounding to float may reach the open upper end; keep U[-b, b).
    p[i] = v < hi ? v : std::nextafter(hi, 0.0f);
  }
}

void fill(Tensor &t, float value) {
  float *p = t.f32();
  for (int64_t i = 0; i < t.numElements(); ++i)
    p[i] = value;
}

// 1/sqrt(fan_in) for a weight of rank >= 2, or an Error when fan_in is 0.
Expected<double> uniformBound(const ParameterSpec &weight) {
  int64_t fanIn = 1;
  for (size_t i = 1; i < weight.shape.size(); ++i)
    if (__builtin_mul_overflow(fanIn, weight.shape[i], &fanIn))
      return Error("parameter '" + weight.name + "' has an absurd shape " +
                   shapeToString(weight.shape));
  if (fanIn <= 0)
    return Error("parameter '" + weight.name + "' has shape " +
                 shapeToString(weight.shape) + ", whose fan_in is 0");
  return 1.0 / std::sqrt(static_cast<double>(fanIn));
}

} // namespace

Expected<TensorMap> initParameters(const std::vector<ParameterSpec> &parameters,
                                   uint64_t seed) {
  std::map<std::string, const ParameterSpec *> byName;
  for (const ParameterSpec &p : parameters)
    byName[p.name] = &p;

  TensorMap result;
  for (const ParameterSpec &p : parameters) {
    Expected<Tensor> created =
        Tensor::create(DType::F32, p.shape, "parameter '" + p.name + "'");
    if (!created)
      return created.error();
    Tensor t = std::move(*created);
    if (endsWith(p.name, ".weight") && p.shape.size() >= 2) {
      Expected<double> bound = uniformBound(p);
      if (!bound)
        return bound.error();
      fillUniform(t, *bound, seed, p.name);
    } else if (endsWith(p.name, ".weight")) {
      fill(t, 1.0f);
    } else if (endsWith(p.name, ".bias")) {
      std::string weightName = p.name.substr(0, p.name.size() - 4) + "weight";
      auto weight = byName.find(weightName);
      if (weight == byName.end())
        return Error("parameter '" + p.name + "' has no '" + weightName +
                     "' to take its fan_in from");
      if (weight->second->shape.size() >= 2) {
        Expected<double> bound = uniformBound(*weight->second);
        if (!bound)
          return bound.error();
        fillUniform(t, *bound, seed, p.name);
      } // else a normalisation layer's bias: zeros, as created.
    } else if (endsWith(p.name, ".running_var")) {
      fill(t, 1.0f);
    } else if (endsWith(p.name, ".running_mean")) {
      // zeros, as created
    } else {
      return Error(
          "parameter '" + p.name +
          "' has no default initialisation (cnnc knows .weight, .bias, "
          ".running_mean and .running_var)");
    }
    if (!result.emplace(p.name, std::move(t)).second)
      return Error("parameter '" + p.name + "' appears twice");
  }
  return result;
}

} // namespace cnnc::rt
