// Checks a set of named tensors (a safetensors file) against the parameters a
// network expects.
#ifndef CNNC_PARAMETERCHECK_H
#define CNNC_PARAMETERCHECK_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <string>
#include <vector>

namespace cnnc::rt {

class ModelLibrary;

// Returns the tensors in `parameters` order when every parameter is present
// in `tensors` with its shape and dtype F32 and there is no other tensor
// but the num_batches_tracked of its batch norms (BatchCounters.h).
// Otherwise the Error lists every problem, one line each, naming `file`:
//   w.safetensors: tensor 'conv1.weight' has shape [6, 3, 5, 5] but the network
//   expects [6, 1, 5, 5] w.safetensors: tensor 'fc3.bias' is missing
//   w.safetensors: unexpected tensor 'head.weight'
// The pointers point into `tensors`.
Expected<std::vector<const Tensor *>>
matchParameters(const std::vector<ParameterSpec> &parameters,
                const TensorMap &tensors, const std::string &file);
Expected<std::vector<const Tensor *>> matchParameters(const ModelLibrary &model,
                                                      const TensorMap &tensors,
                                                      const std::string &file);

// Starting weights for training from a file, skipping named tensors (the
// replaced head of a transfer-learning run): parameters whose names match a
// `skip` glob (shell patterns, as fnmatch) are not taken from the file, and
// file tensors whose names match one are ignored, whatever their shapes.
// Returns, per parameter in order, the file's tensor or nullptr for a
// skipped one (to be initialised as new). Every other parameter must be in
// the file with its shape (an error that names the tensor and suggests
// skipping it), and a glob that matches neither a parameter nor a file
// tensor is an error too (a typo would otherwise load everything).
Expected<std::vector<const Tensor *>>
matchInitialWeights(const std::vector<ParameterSpec> &parameters,
                    const TensorMap &tensors, const std::string &file,
                    const std::vector<std::string> &skip);

} // namespace cnnc::rt

#endif // CNNC_PARAMETERCHECK_H
