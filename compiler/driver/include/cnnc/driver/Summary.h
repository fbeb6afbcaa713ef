// `cnnc summary`: the lecture's arithmetic, per layer, from the inferred IR.
#ifndef CNNC_DRIVER_SUMMARY_H
#define CNNC_DRIVER_SUMMARY_H

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

/// Prints the table `cnnc summary` shows.
void printSummary(const NetworkSummary &summary, std::ostream &os);

} // namespace cnnc

#endif // CNNC_DRIVER_SUMMARY_H
