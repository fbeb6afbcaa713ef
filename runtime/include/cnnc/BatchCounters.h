// PyTorch's BatchNorm2d saves `<layer>.num_batches_tracked`, an int64 scalar
// counting the batches it normalised in training mode, next to its running
// statistics. The compiled step does not read it (cnnc's momentum is always
// a number, never None), but the runtime carries it so that weights move
// between cnnc and PyTorch without renaming: torchvision state_dicts load,
// and files cnnc writes load with load_state_dict(strict=True).
#ifndef CNNC_BATCHCOUNTERS_H
#define CNNC_BATCHCOUNTERS_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc::rt {

class ModelLibrary;

// "bn1.num_batches_tracked" for a "bn1.running_mean" parameter, else "".
std::string batchCounterName(const std::string &parameterName);

// Whether `name` is the counter of a batch norm among `parameters`.
bool isBatchCounter(const std::string &name,
                    const std::vector<ParameterSpec> &parameters);

// The counters of a network's batch norms, in parameter order.
struct BatchCounters {
  std::vector<std::string> names;
  std::vector<int64_t> counts;
  // Whether the training step updates the layer's running statistics (and
  // so counts its batches).
  std::vector<bool> counting;
};

// The counters of `model`, read from `tensors` (a weights file) where present
// (each must be an I64 scalar; `file` names it in errors), else 0.
Expected<BatchCounters> readBatchCounters(const ModelLibrary &model,
                                          const TensorMap &tensors,
                                          const std::string &file);

// Adds each counter to `tensors` as an I64 scalar, plus `steps` for those
// the training step counts.
void addBatchCounters(TensorMap &tensors, const BatchCounters &counters,
                      int64_t steps);

} // namespace cnnc::rt

#endif // CNNC_BATCHCOUNTERS_H
