// The lowering of each cnn op to its Halide algorithm (compiler/halide):
// one function per op, defined in ops/<family>.cpp next to the others of its
// family. lowerOperation dispatches over the ops ODS generates
// (GET_OP_LIST); an op without a function here is listed by
// opsWithoutHalideLowering, which tests/unit/lowering/OpTableTest checks.
// Internal to the lowering.
#ifndef CNNC_LOWERING_OPLOWERINGS_H
#define CNNC_LOWERING_OPLOWERINGS_H

#include "LoweringContext.h"

#include <optional>

namespace cnnc::lowering {

// Parameters are arguments of the pipeline (ops/Parameter.cpp).
void lowerOp(cnn::ParameterOp op, LoweringContext &cx);
void lowerOp(cnn::FillOp op, LoweringContext &cx);

// ops/Convolution.cpp
void lowerOp(cnn::Conv2dOp op, LoweringContext &cx);
void lowerOp(cnn::Conv2dInputGradOp op, LoweringContext &cx);
void lowerOp(cnn::Conv2dWeightGradOp op, LoweringContext &cx);

// ops/Linear.cpp
void lowerOp(cnn::LinearOp op, LoweringContext &cx);
void lowerOp(cnn::LinearInputGradOp op, LoweringContext &cx);
void lowerOp(cnn::LinearWeightGradOp op, LoweringContext &cx);
void lowerOp(cnn::BiasGradOp op, LoweringContext &cx);

// ops/Activation.cpp (and the element-wise add)
void lowerOp(cnn::ReluOp op, LoweringContext &cx);
void lowerOp(cnn::TanhOp op, LoweringContext &cx);
void lowerOp(cnn::SigmoidOp op, LoweringContext &cx);
void lowerOp(cnn::LeakyReluOp op, LoweringContext &cx);
void lowerOp(cnn::EluOp op, LoweringContext &cx);
void lowerOp(cnn::HardtanhOp op, LoweringContext &cx);
void lowerOp(cnn::HardsigmoidOp op, LoweringContext &cx);
void lowerOp(cnn::SiluOp op, LoweringContext &cx);
void lowerOp(cnn::GeluOp op, LoweringContext &cx);
void lowerOp(cnn::HardswishOp op, LoweringContext &cx);
void lowerOp(cnn::SiluGradOp op, LoweringContext &cx);
void lowerOp(cnn::GeluGradOp op, LoweringContext &cx);
void lowerOp(cnn::HardswishGradOp op, LoweringContext &cx);
void lowerOp(cnn::ReluGradOp op, LoweringContext &cx);
void lowerOp(cnn::TanhGradOp op, LoweringContext &cx);
void lowerOp(cnn::SigmoidGradOp op, LoweringContext &cx);
void lowerOp(cnn::LeakyReluGradOp op, LoweringContext &cx);
void lowerOp(cnn::EluGradOp op, LoweringContext &cx);
void lowerOp(cnn::HardtanhGradOp op, LoweringContext &cx);
void lowerOp(cnn::HardsigmoidGradOp op, LoweringContext &cx);
void lowerOp(cnn::AddOp op, LoweringContext &cx);

// ops/Pooling.cpp
void lowerOp(cnn::MaxPool2dOp op, LoweringContext &cx);
void lowerOp(cnn::AvgPool2dOp op, LoweringContext &cx);
void lowerOp(cnn::AdaptiveAvgPool2dOp op, LoweringContext &cx);
void lowerOp(cnn::AdaptiveMaxPool2dOp op, LoweringContext &cx);
void lowerOp(cnn::MaxPool2dGradOp op, LoweringContext &cx);
void lowerOp(cnn::AvgPool2dGradOp op, LoweringContext &cx);
void lowerOp(cnn::AdaptiveAvgPool2dGradOp op, LoweringContext &cx);
void lowerOp(cnn::AdaptiveMaxPool2dGradOp op, LoweringContext &cx);

// ops/Padding.cpp
void lowerOp(cnn::Pad2dOp op, LoweringContext &cx);
void lowerOp(cnn::Pad2dGradOp op, LoweringContext &cx);

// ops/Concat.cpp
void lowerOp(cnn::CatOp op, LoweringContext &cx);
void lowerOp(cnn::SliceOp op, LoweringContext &cx);

// ops/Softmax.cpp
void lowerOp(cnn::SoftmaxOp op, LoweringContext &cx);
void lowerOp(cnn::LogSoftmaxOp op, LoweringContext &cx);
void lowerOp(cnn::SoftmaxGradOp op, LoweringContext &cx);
void lowerOp(cnn::LogSoftmaxGradOp op, LoweringContext &cx);

// ops/Dropout.cpp
void lowerOp(cnn::DropoutOp op, LoweringContext &cx);
void lowerOp(cnn::DropoutGradOp op, LoweringContext &cx);

// ops/Reshape.cpp
void lowerOp(cnn::FlattenOp op, LoweringContext &cx);
void lowerOp(cnn::UnflattenOp op, LoweringContext &cx);

// ops/BatchNorm.cpp
void lowerOp(cnn::BatchNorm2dOp op, LoweringContext &cx);
void lowerOp(cnn::BatchNorm2dInputGradOp op, LoweringContext &cx);
void lowerOp(cnn::BatchNorm2dWeightGradOp op, LoweringContext &cx);
void lowerOp(cnn::BatchNorm2dStatsUpdateOp op, LoweringContext &cx);
/// The tensor whose batch statistics `op` reads (LoweringContext::
/// batchStats): a training batch norm's input, for the forward op, its
/// gradients and its running-statistics update; nothing for other ops.
std::optional<mlir::Value> batchStatsInputOf(mlir::Operation *op);

// ops/Loss.cpp
void lowerOp(cnn::CrossEntropyOp op, LoweringContext &cx);
void lowerOp(cnn::CrossEntropyGradOp op, LoweringContext &cx);

// ops/Optimizer.cpp
void lowerOp(cnn::SgdUpdateOp op, LoweringContext &cx);

/// Lowers `op` by its lowerOp; false when it has none.
bool lowerOperation(mlir::Operation *op, LoweringContext &cx);

} // namespace cnnc::lowering

#endif // CNNC_LOWERING_OPLOWERINGS_H
