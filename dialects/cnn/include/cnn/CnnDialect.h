// The cnn dialect: ops, their shape inference, and the passes over them.
#ifndef CNN_CNNDIALECT_H
#define CNN_CNNDIALECT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "cnn/CnnDialect.h.inc"

#include "cnn/CnnInterfaces.h.inc"

namespace cnn {
class ParameterOp;
class SgdUpdateOp;
class BatchNorm2dStatsUpdateOp;

/// True when each `actual` type is `inferred` or a less refined version of it
/// (unranked, or '?' where the inferred type has a size): such IR verifies
/// and cnn-infer-shapes refines it.
bool isRefinableTo(mlir::TypeRange actual, mlir::TypeRange inferred);

mlir::LogicalResult verifyParameter(ParameterOp op);
mlir::LogicalResult verifySgdUpdate(SgdUpdateOp op);
mlir::LogicalResult verifyBatchNorm2dStatsUpdate(BatchNorm2dStatsUpdateOp op);
} // namespace cnn

#define GET_OP_CLASSES
#include "cnn/CnnOps.h.inc"

#endif // CNN_CNNDIALECT_H
