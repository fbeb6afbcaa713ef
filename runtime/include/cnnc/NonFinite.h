// Finding NaN and infinite values in float32 tensors: `cnnc run` and `cnnc
// eval` warn about them in their inputs and weights, and training refuses to
// start from them or to write them (a diverged epoch).
#ifndef CNNC_NONFINITE_H
#define CNNC_NONFINITE_H

#include "cnnc/Tensor.h"

#include <string>
#include <vector>

namespace cnnc::rt {

// The NaN and infinite entries of a tensor and the index of the first.
struct NonFiniteValues {
  int64_t nans = 0;
  int64_t infinities = 0;
  Shape first; // its index, one coordinate per dimension

  bool any() const { return nans + infinities > 0; }
};

// Every entry of an F32 tensor checked; an I64 tensor has none.
NonFiniteValues findNonFinite(const Tensor &tensor);

// "holds 2 NaN and 1 infinite values, the first at [0, 1, 4, 4]"; empty when
// there are none.
std::string describeNonFinite(const NonFiniteValues &values);

// One line per tensor of `tensors` (the values of `parameters`, in order;
// null entries skipped) that holds non-finite values:
// "tensor 'conv1.weight' holds ...".
std::vector<std::string>
nonFiniteParameters(const std::vector<ParameterSpec> &parameters,
                    const std::vector<const Tensor *> &tensors);

} // namespace cnnc::rt

#endif // CNNC_NONFINITE_H
