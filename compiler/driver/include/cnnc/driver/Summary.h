// `cnnc summary`: the lecture's arithmetic, per layer, from the inferred IR.
#ifndef CNNC_DRIVER_SUMMARY_H
#define CNNC_DRIVER_SUMMARY_H

#include "cnnc/lowering/ModelAbi.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace cnnc {

struct LayerSummary {
  std::string name;
  std::string kind;
  std::vector<int64_t> outputShape; // batch as -1
  int64_t parameters = 0;
  int64_t flops = 0; // per sample; a multiply-add counts 2
  int64_t
      receptiveField[2]; // input pixels (h, w) one output value sees; -1: all
  int64_t jump[2];       // product of strides so far (h, w)
  /// The layers it reads, as indices into NetworkSummary::layers (earlier
  /// ones); -1 for the network's input. Two or more for add and cat.
  std::vector<int> inputs;
};

struct NetworkSummary {
  std::string name;
  std::vector<int64_t> inputShape;
  std::vector<LayerSummary> layers;
  int64_t totalParameters = 0;
  int64_t totalFlops = 0;
};

/// Summarises `func @forward` of a module built by the importer.
NetworkSummary summarize(mlir::ModuleOp module);

/// 61706 -> "61,706".
std::string withCommas(int64_t n);

/// Prints the table `cnnc summary` shows.
void printSummary(const NetworkSummary &summary, std::ostream &os);

/// What a library needs at `batch` samples, in bytes of float32, on the
/// host or (for a GPU library) on the device alike. Upper bounds on the
/// activations: fused layers' outputs are never stored whole.
struct MemoryEstimate {
  int64_t batch = 1;
  int64_t parameters = 0; // every parameter and buffer, once
  /// A training session's state: each parameter, again for those the step
  /// updates, and two momentum buffers for each trainable one.
  int64_t session = 0;
  int64_t forward = 0;   // the input and every layer's output
  int64_t trainStep = 0; // those, their gradients, the weight gradients
  /// Included in both: on a GPU, a convolution's weights transposed for
  /// its warp-tiled kernel while it runs (the largest that may be, as a
  /// bound: one is alive at a time).
  int64_t transposedWeights = 0;
  /// Included in trainStep: on a GPU, a layer's parameter gradients (or a
  /// batch norm's statistics) summed over the batch in parts of its output
  /// rows, stored before they are added (at most a part per row, or per
  /// column of a single row: the largest layer's, as a bound; one is alive
  /// at a time).
  int64_t partialSums = 0;
};

/// `gpu`: the estimate of a GPU library (transposedWeights, partialSums).
MemoryEstimate estimateMemory(const NetworkSummary &summary,
                              const ModelAbi &abi, int64_t batch, bool gpu);

/// Prints the estimate under the table; `where` names the memory ("device
/// memory (host-cuda)").
void printMemory(const MemoryEstimate &memory, const std::string &where,
                 std::ostream &os);

} // namespace cnnc

#endif // CNNC_DRIVER_SUMMARY_H
