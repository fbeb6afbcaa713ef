// FLOPs per sample of the convolutions and matrix products (FlopCountOp):
// a multiply-add counts 2, a bias add 1.
#include "cnn/CnnDialect.h"

using namespace mlir;

namespace cnn {
namespace {

/// Elements of one sample of a value whose first dimension is the batch.
int64_t perSample(Value v) {
  shape::Shape s = shapeOf(v);
  int64_t n = 1;
  for (size_t i = 1; i < s.size(); ++i)
    n *= s[i];
  return n;
}

/// Multiply-adds per output element of a convolution with weight `w`.
int64_t tapsPerOutput(const shape::Shape &w) { return w[1] * w[2] * w[3]; }

} // namespace

int64_t Conv2dOp::flopsPerSample() {
  const int64_t out = perSample(getResult());
  return 2 * out * tapsPerOutput(shapeOf(getWeight())) +
         (getBias() ? out : 0);
}

int64_t Conv2dInputGradOp::flopsPerSample() {
  return 2 * perSample(getGrad()) * tapsPerOutput(shapeOf(getWeight()));
}

int64_t Conv2dWeightGradOp::flopsPerSample() {
  return 2 * perSample(getGrad()) * tapsPerOutput(shapeOf(getResult()));
}

int64_t LinearOp::flopsPerSample() {
  shape::Shape w = shapeOf(getWeight());
  return 2 * w[0] * w[1] + (getBias() ? w[0] : 0);
}

int64_t LinearInputGradOp::flopsPerSample() {
  shape::Shape w = shapeOf(getWeight());
  return 2 * w[0] * w[1];
}

int64_t LinearWeightGradOp::flopsPerSample() {
  shape::Shape w = shapeOf(getResult());
  return 2 * w[0] * w[1];
}

} // namespace cnn
