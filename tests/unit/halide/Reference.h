// Helpers shared by the Halide op and gradient tests: plain C++ reference
// forwards that accumulate in double (straight from the PyTorch docs and
// ATen's loops), the tensors they work on, and the pipeline inputs the
// tests build as the MLIR walker does.
#ifndef CNNC_HALIDE_TEST_REFERENCE_H
#define CNNC_HALIDE_TEST_REFERENCE_H

#include "cnnc/halide/Activations.h"
#include "cnnc/halide/Gradients.h"
#include "cnnc/halide/Ops.h"

#include <Halide.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace cnnc::hl::test {

using cnn::shape::Conv2dArgs;
using cnn::shape::kDynamic;
using cnn::shape::Pair;
using cnn::shape::Pool2dArgs;
using cnn::shape::Shape;
using Buf = Halide::Buffer<float>;

/// The JIT target of this host (from HL_JIT_TARGET if set).
Halide::Target hostTarget();

// --- tensors -----------------------------------------------------------------

/// A double tensor: a PyTorch shape, values in C order.
struct DT {
  Shape shape;
  std::vector<double> v;

  DT() = default;
  explicit DT(Shape s) : shape(std::move(s)) {
    size_t n = 1;
    for (int64_t d : shape)
      n *= size_t(d);
    v.assign(n, 0.0);
  }
  double &at(std::initializer_list<int64_t> idx) { return v[offset(idx)]; }
  double at(std::initializer_list<int64_t> idx) const { return v[offset(idx)]; }
  size_t offset(std::initializer_list<int64_t> idx) const {
    size_t o = 0, d = 0;
    for (int64_t i : idx)
      o = o * size_t(shape[d++]) + size_t(i);
    return o;
  }
  int64_t dim(size_t d) const { return shape[d]; }
};

/// `shape` with a dynamic batch (shape[0] == kDynamic) set to `batch`.
Shape withBatch(Shape shape, int batch);

/// A dense buffer of a PyTorch shape (NCHW): Halide dims reversed, so it
/// holds its values in C order, the same layout as DT.
Buf makeBuffer(const Shape &shape);

/// `t` rounded to float.
Buf toBuf(const DT &t);

/// The values of `b` (any strides) as a DT of the PyTorch shape.
DT toDT(const Buf &b);

/// Calls `fn` with every position of `b` (Halide's dims, innermost first).
/// Buffer::for_each_element does the same, but GCC 12 reports its
/// run-time-rank recursion as reading an uninitialised position.
void forEachPosition(const Buf &b, const std::function<void(const int *)> &fn);

/// Whether |got - want| <= tol * (1 + |want|).
bool withinTol(double got, double want, double tol);

// --- pipeline inputs ---------------------------------------------------------

/// A pipeline input (an activation with a dynamic batch, or a parameter
/// with a static shape) as the walker builds it: an ImageParam constrained
/// with constrainToShape.
struct Input {
  Halide::ImageParam param;
  Tensor tensor;
};

/// An input named `name` plus a counter (parameter names must be unique
/// within a pipeline).
Input makeInput(const std::string &name, const Shape &shape);

/// "2x3" for {2, 3}, for case labels.
std::string pairText(Pair p);
/// "k 2x2 s 2x2 p 0x0 d 1x1", then " ceil" and " divisor 3" when set.
std::string poolText(const Pool2dArgs &a);
/// `a` with ceil_mode on.
Pool2dArgs ceilMode(Pool2dArgs a);

// --- double references -------------------------------------------------------

/// PyTorch's conv / pool output size.
int outSize(int in, int k, int s, int p, int d);

DT refConv(const DT &x, const DT &w, const DT *b, const Conv2dArgs &a);
DT refLinear(const DT &x, const DT &w, const DT *b);
/// The activations the tests use, by name; those with arguments have the
/// tests' values: leaky_relu slope 0.2, elu alpha 0.7, hardtanh(-0.4, 0.3),
/// relu6 = hardtanh(0, 6), GELU exact and with the tanh approximation.
enum class Act {
  Relu,
  Tanh,
  Sigmoid,
  LeakyRelu,
  Elu,
  Hardtanh,
  Relu6,
  Hardsigmoid,
  Silu,
  Gelu,
  GeluTanh,
  Hardswish
};
inline constexpr Act kEveryAct[] = {
    Act::Relu, Act::Tanh,     Act::Sigmoid,  Act::LeakyRelu,
    Act::Elu,  Act::Hardtanh, Act::Relu6,    Act::Hardsigmoid,
    Act::Silu, Act::Gelu,     Act::GeluTanh, Act::Hardswish};
/// Whether the activation's gradient reads its input (else its result;
/// relu reads either: y > 0 exactly where x > 0).
bool gradReadsInput(Act act);
/// Where the activation's derivative jumps (finite differences stay away).
std::vector<double> actKinks(Act act);
/// The activation's lowered op and gradient (hl::elementwise with
/// Activations.h's formulas).
LoweredOp activationOp(Act act, const Tensor &input);
LoweredGrad activationGradOp(Act act, const Tensor &saved, const Tensor &dy);
DT refActivation(Act act, const DT &x);
const char *actName(Act act);
/// -inf where a window holds only padding.
DT refMaxPool(const DT &x, const Pool2dArgs &a);
/// ATen's avg_pool2d loop, transcribed.
DT refAvgPool(const DT &x, const Pool2dArgs &a, bool countIncludePad);
DT refAdaptiveAvgPool(const DT &x, int64_t OH, int64_t OW);
DT refAdaptiveMaxPool(const DT &x, int64_t OH, int64_t OW);
/// torch.cat(parts, dim).
DT refCat(const std::vector<DT> &parts, int dim);
/// F.softmax(x, dim) (`log`: F.log_softmax), in double without the max
/// shift.
DT refSoftmax(const DT &x, int dim, bool log);
/// F.pad of H and W in conv2d's padding modes.
DT refPad(const DT &x, const cnn::shape::Pad2dArgs &a);
/// [N, C, H, W] to [N, C * H * W] in C order.
DT refFlatten(const DT &x);
/// The batch mean and biased variance of each channel of x over (N, H, W)
/// (two passes).
void refChannelStats(const DT &x, DT &mean, DT &var);
/// BatchNorm2d: (x - mean) / sqrt(var + eps) * w + b per channel, with the
/// batch statistics (`training`) or the given running ones.
DT refBatchNorm(const DT &x, const DT &w, const DT &b, const DT &runningMean,
                const DT &runningVar, double eps, bool training);
/// mean over n of logsumexp(l[n]) - l[n, label[n]].
double refCrossEntropy(const DT &logits, const std::vector<int> &labels);

// --- the same on float buffers -----------------------------------------------
// The double references above on the values of the buffers, each result
// rounded to float (as a pipeline stores it between ops).

Buf refConv(const Buf &in, const Buf &w, const Buf *bias, const Conv2dArgs &a);
Buf refLinear(const Buf &in, const Buf &w, const Buf *bias);
Buf refActivation(Act act, const Buf &in);
Buf refMaxPool(const Buf &in, const Pool2dArgs &a);
Buf refAvgPool(const Buf &in, const Pool2dArgs &a, bool countIncludePad);
Buf refAdaptiveAvgPool(const Buf &in, int OH, int OW);
Buf refAdaptiveMaxPool(const Buf &in, int OH, int OW);
Buf refPad(const Buf &in, const cnn::shape::Pad2dArgs &a);
Buf refSoftmax(const Buf &in, int dim, bool log);
Buf refFlatten(const Buf &in);

} // namespace cnnc::hl::test

#endif // CNNC_HALIDE_TEST_REFERENCE_H
