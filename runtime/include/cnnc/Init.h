// PyTorch's default initialisation of parameters, from their names and shapes.
#ifndef CNNC_INIT_H
#define CNNC_INIT_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <cstdint>
#include <vector>

namespace cnnc::rt {

// Float32 tensors initialised as torch.nn does by default:
//   X.weight of rank >= 2 (conv [O, I/g, kh, kw], linear [out, in]):
//     kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//     with fan_in = prod(shape[1:])
//   X.bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with X.weight's fan_in, or
//     zeros when X.weight has rank 1 (a normalisation layer)
//   X.weight of rank 1 (normalisation): ones
//   X.running_mean: zeros; X.running_var: ones
// Other names are an error. The values of a parameter depend only on the
// seed, its name and its shape (not on the other parameters), so replacing
// one layer leaves the others' initial values as they were. Not bitwise equal
// to torch's RNG streams, only to its distributions.
Expected<TensorMap> initParameters(const std::vector<ParameterSpec> &parameters,
                                   uint64_t seed);

} // namespace cnnc::rt

#endif // CNNC_INIT_H
