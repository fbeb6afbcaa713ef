// The fusion plan (cnnc/halide/FusionPlan.h) of a cnn function, planned
// once from its ops before it is split into pipeline segments: the
// segmentation keeps every group in one segment, and each segment's
// schedules compute its groups in one loop nest.
#ifndef CNNC_LOWERING_FUNCTIONFUSION_H
#define CNNC_LOWERING_FUNCTIONFUSION_H

#include "cnnc/halide/FusionPlan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <vector>

namespace cnnc {

struct FunctionFusion {
  /// The function's ops in order, but its parameters and its return: node i
  /// of the plan is ops[i].
  std::vector<mlir::Operation *> ops;
  llvm::DenseMap<mlir::Operation *, int> nodeOf;
  fusion::Plan plan;

  /// The groups of the forward ops `ops` (one segment's, in function
  /// order), as indices into `ops`; a group a forced cut split contributes
  /// the part in `ops`.
  std::vector<fusion::Group>
  groupsIn(const std::vector<mlir::Operation *> &ops) const;
  /// For each of `ops` (one segment's backward ops, in function order), the
  /// index in `ops` of the update computed with it (a weight gradient's SGD
  /// step).
  std::vector<std::optional<size_t>>
  updatesIn(const std::vector<mlir::Operation *> &ops) const;
};

/// Plans the fusion of `func`'s ops (see fusion::plan for the rules): each
/// op's role comes from its class and traits (cnn::OpTrait::Pointwise,
/// cnn::OpTrait::NotDifferentiable); the values `func` returns are outputs.
FunctionFusion planFunctionFusion(mlir::FuncOp func);

} // namespace cnnc

#endif // CNNC_LOWERING_FUNCTIONFUSION_H
