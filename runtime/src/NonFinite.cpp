#include "cnnc/NonFinite.h"

#include <cmath>

namespace cnnc::rt {

NonFiniteValues findNonFinite(const Tensor &tensor) {
  NonFiniteValues found;
  if (tensor.dtype() != DType::F32)
    return found;
  const float *data = tensor.f32();
  int64_t firstFlat = -1;
  for (int64_t i = 0, n = tensor.numElements(); i < n; ++i) {
    if (std::isfinite(data[i]))
      continue;
    ++(std::isnan(data[i]) ? found.nans : found.infinities);
    if (firstFlat < 0)
      firstFlat = i;
  }
  if (firstFlat < 0)
    return found;
  // Row-major: the last dimension varies fastest.
  const Shape &shape = tensor.shape();
  found.first.assign(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    found.first[d] = firstFlat % shape[d];
    firstFlat /= shape[d];
  }
  return found;
}

std::string describeNonFinite(const NonFiniteValues &values) {
  if (!values.any())
    return "";
  std::string kinds;
  if (values.nans)
    kinds = std::to_string(values.nans) + " NaN";
  if (values.infinities)
    kinds += (kinds.empty() ? "" : " and ") +
             std::to_string(values.infinities) + " infinite";
  return "holds " + kinds + " value" +
         (values.nans + values.infinities > 1 ? "s" : "") + ", the first at " +
         shapeToString(values.first);
}

std::vector<std::string>
nonFiniteParameters(const std::vector<ParameterSpec> &parameters,
                    const std::vector<const Tensor *> &tensors) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < tensors.size() && i < parameters.size(); ++i) {
    if (!tensors[i])
      continue;
    NonFiniteValues values = findNonFinite(*tensors[i]);
    if (values.any())
      lines.push_back("tensor '" + parameters[i].name + "' " +
                      describeNonFinite(values));
  }
  return lines;
}

} // namespace cnnc::rt
