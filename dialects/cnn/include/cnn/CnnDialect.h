// The cnn dialect: ops, their shape inference, and the passes over them.
#ifndef CNN_CNNDIALECT_H
#define CNN_CNNDIALECT_H

#include "cnn/ShapeRules.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
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

namespace OpTrait {
/// An op of the training step (built by cnn-autodiff), never differentiated:
/// it declares so instead of implementing DifferentiableOp.
template <typename ConcreteType>
class NotDifferentiable
    : public mlir::OpTrait::TraitBase<ConcreteType, NotDifferentiable> {};

/// Each result element reads only the same element of the op's tensor
/// operands (and per-channel values), so it may be computed inside its
/// producer's loops (see FusionPlan.h).
template <typename ConcreteType>
class Pointwise : public mlir::OpTrait::TraitBase<ConcreteType, Pointwise> {};
} // namespace OpTrait

/// True when each `actual` type is `inferred` or a less refined version of it
/// (unranked, or '?' where the inferred type has a size): such IR verifies
/// and cnn-infer-shapes refines it.
bool isRefinableTo(mlir::TypeRange actual, mlir::TypeRange inferred);

/// The shape of a ranked tensor value.
shape::Shape shapeOf(mlir::Value value);
/// The [h, w] of a Cnn_PairAttr (two i64, checked by the op verifiers).
shape::Pair pairOf(mlir::ArrayAttr attr);

/// The window of a maxpool2d or maxpool2d_grad (op or adaptor).
template <typename OpOrAdaptor>
shape::Pool2dArgs maxPoolArgsOf(OpOrAdaptor op) {
  shape::Pool2dArgs args{pairOf(op.getKernelSize()), pairOf(op.getStride()),
                         pairOf(op.getPadding()), pairOf(op.getDilation())};
  args.ceilMode = op.getCeilMode();
  return args;
}

/// The padding of a pad2d or pad2d_grad (op or adaptor), or none when its
/// mode is not one of shape::padModeNames().
template <typename OpOrAdaptor>
std::optional<shape::Pad2dArgs> padArgsOf(OpOrAdaptor op) {
  std::optional<shape::PadMode> mode = shape::padModeNamed(op.getMode().str());
  if (!mode)
    return std::nullopt;
  return shape::Pad2dArgs{pairOf(op.getBegin()), pairOf(op.getEnd()), *mode};
}

/// The window and divisor of an avgpool2d or avgpool2d_grad (op or adaptor).
template <typename OpOrAdaptor>
shape::Pool2dArgs avgPoolArgsOf(OpOrAdaptor op) {
  shape::Pool2dArgs args{pairOf(op.getKernelSize()),
                         pairOf(op.getStride()),
                         pairOf(op.getPadding()),
                         {1, 1}};
  args.ceilMode = op.getCeilMode();
  if (mlir::IntegerAttr divisor = op.getDivisorOverrideAttr())
    args.divisorOverride = divisor.getInt();
  return args;
}

mlir::LogicalResult verifyParameter(ParameterOp op);
mlir::LogicalResult verifySgdUpdate(SgdUpdateOp op);
mlir::LogicalResult verifyBatchNorm2dStatsUpdate(BatchNorm2dStatsUpdateOp op);

namespace detail {
/// Whether every operand has a ranked type (else the result is unranked).
bool allRanked(mlir::ValueRange operands);
/// Checks `attributes` with the op's generated constraints; reports at
/// `location`, or silently without one.
template <typename OpTy>
mlir::LogicalResult verifyAttributes(typename OpTy::Adaptor &adaptor,
                                     mlir::MLIRContext *context,
                                     llvm::Optional<mlir::Location> location) {
  if (location)
    return adaptor.verify(*location);
  mlir::ScopedDiagnosticHandler silence(
      context, [](mlir::Diagnostic &) { return mlir::success(); });
  return adaptor.verify(mlir::UnknownLoc::get(context));
}
mlir::LogicalResult toInferredType(mlir::MLIRContext *context,
                                   llvm::Optional<mlir::Location> location,
                                   llvm::StringRef opName,
                                   const shape::ShapeResult &result,
                                   llvm::SmallVectorImpl<mlir::Type> &inferred);
} // namespace detail

/// inferReturnTypes of every Cnn_InferredOp: verifies the attributes (no
/// accessor ever reads a missing or malformed one), then asks the op's
/// `inferShape`, i.e. its shape rule, for the result type. An unranked
/// operand gives an unranked result.
template <typename OpTy>
mlir::LogicalResult inferReturnTypesByShapeRule(
    mlir::MLIRContext *context, llvm::Optional<mlir::Location> location,
    mlir::ValueRange operands, mlir::DictionaryAttr attributes,
    mlir::RegionRange regions, llvm::SmallVectorImpl<mlir::Type> &inferred) {
  typename OpTy::Adaptor adaptor(operands, attributes, regions);
  if (mlir::failed(detail::verifyAttributes<OpTy>(adaptor, context, location)))
    return mlir::failure();
  if (!detail::allRanked(operands)) {
    inferred.push_back(
        mlir::UnrankedTensorType::get(mlir::FloatType::getF32(context)));
    return mlir::success();
  }
  return detail::toInferredType(context, location, OpTy::getOperationName(),
                                OpTy::inferShape(adaptor), inferred);
}

/// The result shape an op of type OpTy would have, or the shape rule's
/// message (without the op's name), for building ops whose problems are
/// reported in the user's terms (the YAML importer). Operands are ranked.
template <typename OpTy>
shape::ShapeResult resultShape(mlir::MLIRContext *context,
                               mlir::ValueRange operands,
                               mlir::DictionaryAttr attributes) {
  typename OpTy::Adaptor adaptor(operands, attributes);
  if (mlir::failed(detail::verifyAttributes<OpTy>(adaptor, context, {})))
    return shape::ShapeResult::failure("has malformed attributes");
  return OpTy::inferShape(adaptor);
}
} // namespace cnn

#define GET_OP_CLASSES
#include "cnn/CnnOps.h.inc"

namespace cnn {
/// Whether a dropout draws a mask: in training mode with p > 0 (otherwise
/// it is the identity, and its function needs no seed).
inline bool drawsMask(DropoutOp op) {
  return op.getTraining() && op.getP().convertToDouble() > 0.0;
}
} // namespace cnn

#endif // CNN_CNNDIALECT_H
