// The names of the op and gradient kinds, for messages and the schedules'
// checks: one place to extend with a new kind.
#include "cnnc/halide/Gradients.h"

namespace cnnc::hl {

const char *opKindName(OpKind kind) {
  switch (kind) {
  case OpKind::Conv2d:
    return "conv2d";
  case OpKind::Linear:
    return "linear";
  case OpKind::Elementwise:
    return "elementwise";
  case OpKind::MaxPool2d:
    return "maxpool2d";
  case OpKind::AvgPool2d:
    return "avgpool2d";
  case OpKind::AdaptiveAvgPool2d:
    return "adaptive_avgpool2d";
  case OpKind::AdaptiveMaxPool2d:
    return "adaptive_maxpool2d";
  case OpKind::Concat:
    return "cat";
  case OpKind::Softmax:
    return "softmax";
  case OpKind::Pad2d:
    return "pad2d";
  case OpKind::Flatten:
    return "flatten";
  case OpKind::BatchNorm2d:
    return "batchnorm2d";
  }
  return "unknown";
}

const char *gradKindName(GradKind kind) {
  switch (kind) {
  case GradKind::SoftmaxCrossEntropy:
    return "softmax_cross_entropy";
  case GradKind::SoftmaxCrossEntropyGrad:
    return "softmax_cross_entropy_grad";
  case GradKind::Conv2dInputGrad:
    return "conv2d_input_grad";
  case GradKind::Conv2dWeightGrad:
    return "conv2d_weight_grad";
  case GradKind::BiasGrad:
    return "bias_grad";
  case GradKind::LinearInputGrad:
    return "linear_input_grad";
  case GradKind::LinearWeightGrad:
    return "linear_weight_grad";
  case GradKind::ElementwiseGrad:
    return "elementwise_grad";
  case GradKind::MaxPool2dGrad:
    return "maxpool2d_grad";
  case GradKind::AvgPool2dGrad:
    return "avgpool2d_grad";
  case GradKind::AdaptiveAvgPool2dGrad:
    return "adaptive_avgpool2d_grad";
  case GradKind::AdaptiveMaxPool2dGrad:
    return "adaptive_maxpool2d_grad";
  case GradKind::Slice:
    return "slice";
  case GradKind::SoftmaxGrad:
    return "softmax_grad";
  case GradKind::Pad2dGrad:
    return "pad2d_grad";
  case GradKind::FlattenGrad:
    return "flatten_grad";
  case GradKind::SgdUpdate:
    return "sgd_update";
  case GradKind::BatchNorm2dInputGrad:
    return "batchnorm2d_input_grad";
  case GradKind::BatchNorm2dWeightGrad:
    return "batchnorm2d_weight_grad";
  case GradKind::BatchNorm2dStatsUpdate:
    return "batchnorm2d_stats_update";
  }
  return "unknown";
}

} // namespace cnnc::hl
