#include "cnnc/ParameterCheck.h"

#include "cnnc/BatchCounters.h"
#include "cnnc/ModelLibrary.h"

#include <fnmatch.h>
#include <set>

namespace cnnc::rt {
namespace {

// The check behind both entry points. `skip` is null for a file that must
// hold exactly the network's parameters (run, eval); with it (a training
// start) skipped names are left out and mismatches suggest skipping.
Expected<std::vector<const Tensor *>>
match(const std::vector<ParameterSpec> &parameters, const TensorMap &tensors,
      const std::string &file, const std::vector<std::string> *skip) {
  std::vector<bool> used(skip ? skip->size() : 0, false);
  auto skipped = [&](const std::string &name) {
    bool any = false;
    for (size_t i = 0; i < used.size(); ++i)
      if (fnmatch((*skip)[i].c_str(), name.c_str(), 0) == 0)
        any = used[i] = true;
    return any;
  };
  auto hint = [&](const std::string &name) {
    return skip ? "; to start it anew instead, skip it (--skip '" + name + "')"
                : std::string();
  };

  std::vector<std::string> problems;
  std::vector<const Tensor *> ordered;
  std::set<std::string> expected;
  for (const ParameterSpec &spec : parameters) {
    expected.insert(spec.name);
    if (skipped(spec.name)) {
      ordered.push_back(nullptr);
      continue;
    }
    auto it = tensors.find(spec.name);
    if (it == tensors.end()) {
      problems.push_back("tensor '" + spec.name +
                         "' is missing (the network expects " +
                         shapeToString(spec.shape) + ")" + hint(spec.name));
      continue;
    }
    const Tensor &t = it->second;
    if (t.shape() != spec.shape)
      problems.push_back("tensor '" + spec.name + "' has shape " +
                         shapeToString(t.shape()) +
                         " but the network expects " +
                         shapeToString(spec.shape) + hint(spec.name));
    else if (t.dtype() != DType::F32)
      problems.push_back("tensor '" + spec.name + "' has dtype " +
                         dtypeName(t.dtype()) + " but the network expects F32");
    ordered.push_back(&t);
  }
  // A batch norm's num_batches_tracked is carried, not passed to the
  // network (see BatchCounters.h).
  for (const auto &[name, tensor] : tensors)
    if (!expected.count(name) && !skipped(name) &&
        !isBatchCounter(name, parameters))
      problems.push_back("unexpected tensor '" + name + "' (" +
                         shapeToString(tensor.shape()) +
                         "); the network has no such parameter");
  for (size_t i = 0; i < used.size(); ++i)
    if (!used[i])
      problems.push_back(
          "--skip pattern '" + (*skip)[i] +
          "' matches no parameter of the network and no tensor of the file");
  if (problems.empty())
    return ordered;
  std::string message;
  for (const std::string &p : problems)
    message += (message.empty() ? "" : "\n") + file + ": " + p;
  return Error(message);
}

} // namespace

Expected<std::vector<const Tensor *>>
matchParameters(const std::vector<ParameterSpec> &parameters,
                const TensorMap &tensors, const std::string &file) {
  return match(parameters, tensors, file, nullptr);
}

Expected<std::vector<const Tensor *>> matchParameters(const ModelLibrary &model,
                                                      const TensorMap &tensors,
                                                      const std::string &file) {
  return matchParameters(model.parameters(), tensors, file);
}

Expected<std::vector<const Tensor *>>
matchInitialWeights(const std::vector<ParameterSpec> &parameters,
                    const TensorMap &tensors, const std::string &file,
                    const std::vector<std::string> &skip) {
  return match(parameters, tensors, file, &skip);
}

} // namespace cnnc::rt
