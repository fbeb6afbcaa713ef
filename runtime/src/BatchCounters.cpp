#include "cnnc/BatchCounters.h"

#include "cnnc/ModelLibrary.h"

namespace cnnc::rt {

namespace {
const std::string kMean = ".running_mean";
const std::string kCounter = ".num_batches_tracked";
} // namespace

std::string batchCounterName(const std::string &parameterName) {
  if (parameterName.size() <= kMean.size() ||
      parameterName.compare(parameterName.size() - kMean.size(), kMean.size(),
                            kMean) != 0)
    return "";
  return parameterName.substr(0, parameterName.size() - kMean.size()) +
         kCounter;
}

bool isBatchCounter(const std::string &name,
                    const std::vector<ParameterSpec> &parameters) {
  for (const ParameterSpec &p : parameters)
    if (batchCounterName(p.name) == name)
      return true;
  return false;
}

Expected<BatchCounters> readBatchCounters(const ModelLibrary &model,
                                          const TensorMap &tensors,
                                          const std::string &file) {
  BatchCounters counters;
  const std::vector<ParameterSpec> &specs = model.parameters();
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string name = batchCounterName(specs[i].name);
    if (name.empty())
      continue;
    int64_t count = 0;
    if (auto it = tensors.find(name); it != tensors.end()) {
      if (it->second.dtype() != DType::I64 || it->second.numElements() != 1)
        return Error(file + ": tensor '" + name + "' is " +
                     dtypeName(it->second.dtype()) + " " +
                     shapeToString(it->second.shape()) +
                     " but a batch norm's counter is an I64 scalar");
      count = it->second.i64()[0];
    }
    counters.names.push_back(name);
    counters.counts.push_back(count);
    counters.counting.push_back(model.updated()[i]);
  }
  return counters;
}

void addBatchCounters(TensorMap &tensors, const BatchCounters &counters,
                      int64_t steps) {
  for (size_t i = 0; i < counters.names.size(); ++i) {
    Tensor t(DType::I64, {});
    t.i64()[0] = counters.counts[i] + (counters.counting[i] ? steps : 0);
    tensors.insert_or_assign(counters.names[i], std::move(t));
  }
}

} // namespace cnnc::rt
