#include "cnnc/ParameterCheck.h"

#include "cnnc/BatchCounters.h"
#include "cnnc/ModelLibrary.h"

#include <set>

namespace cnnc::rt {

Expected<std::vector<const Tensor *>>
matchParameters(const std::vector<ParameterSpec> &parameters, const TensorMap &tensors,
                const std::string &file) {
  std::vector<std::string> problems;
  std::vector<const Tensor *> ordered;
  std::set<std::string> expected;
  for (const ParameterSpec &spec : parameters) {
    expected.insert(spec.name);
    auto it = tensors.find(spec.name);
    if (it == tensors.end()) {
      problems.push_back("tensor '" + spec.name + "' is missing (the network expects " +
                         shapeToString(spec.shape) + ")");
      continue;
    }
    const Tensor &t = it->second;
    if (t.shape() != spec.shape)
      problems.push_back("tensor '" + spec.name + "' has shape " +
                         shapeToString(t.shape()) + " but the network expects " +
                         shapeToString(spec.shape));
    else if (t.dtype() != DType::F32)
      problems.push_back("tensor '" + spec.name + "' has dtype " + dtypeName(t.dtype()) +
                         " but the network expects F32");
    ordered.push_back(&t);
  }
  // A batch norm's num_batches_tracked is carried, not passed to the
  // network (see BatchCounters.h).
  for (const auto &[name, tensor] : tensors)
    if (!expected.count(name) && !isBatchCounter(name, parameters))
      problems.push_back("unexpected tensor '" + name + "' (" +
                         shapeToString(tensor.shape()) + "); the network has no such parameter");
  if (problems.empty())
    return ordered;
  std::string message;
  for (const std::string &p : problems)
    message += (message.empty() ? "" : "\n") + file + ": " + p;
  return Error(message);
}

Expected<std::vector<const Tensor *>>
matchParameters(const ModelLibrary &model, const TensorMap &tensors,
                const std::string &file) {
  return matchParameters(model.parameters(), tensors, file);
}

} // namespace cnnc::rt
