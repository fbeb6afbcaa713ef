// Dropout in training mode and its gradient: both multiply by the same
// noise, recomputed from a counter-based hash, so nothing is stored between
// them and a step is reproducible from (seed, step, sample).
#include "GradientsCommon.h"

#include <cmath>
#include <limits>

namespace cnnc::hl {

using namespace Halide;

namespace {

Expr u32(uint64_t v) { return Internal::make_const(UInt(32), v); }

/// lowbias32 (C. Wellons' integer hash search): a full-avalanche 32-bit
/// mix, cheap in SIMD lanes (two multiplies).
Expr hash32(Expr x) {
  x = x ^ (x >> 16);
  x = x * u32(0x7feb352d);
  x = x ^ (x >> 15);
  x = x * u32(0x846ca68b);
  return x ^ (x >> 16);
}

/// Folds one more 32-bit word into a running hash; the added constant
/// keeps zero words from mapping zero to zero.
Expr mix(const Expr &acc, const Expr &word) {
  return hash32((acc ^ word) + u32(0x9e3779b9));
}

Expr low32(const Expr &v) { return cast(UInt(32), v); }
Expr high32(const Expr &v) { return cast(UInt(32), cast(UInt(64), v) >> 32); }

/// The noise at `at` (the pure vars of a [N, ...] tensor of `shape`):
/// 1 / (1 - p) where the element is kept, 0 where it is dropped.
Expr noise(const DropoutMask &mask, const std::vector<Var> &at,
           const cnn::shape::Shape &shape) {
  const size_t rank = shape.size();
  // The index in the sample, C order (Halide dim 0 is the last PyTorch dim).
  Expr element = 0;
  if (mask.channelwise) {
    element = at[rank - 2];
  } else {
    for (size_t pd = 1; pd < rank; ++pd)
      element = element * int(shape[pd]) + at[rank - 1 - pd];
  }
  const Expr sample = cast(Int(64), at[rank - 1]) + mask.firstSample;
  Expr key = mix(mix(mix(mix(mix(u32(0), low32(mask.seed)), high32(mask.seed)),
                         low32(mask.step)),
                     high32(mask.step)),
                 u32(mask.stream));
  Expr bits = mix(mix(key, low32(sample)), low32(element)) >> 8;
  const uint64_t threshold = uint64_t(std::llround(mask.p * 16777216.0));
  // PyTorch's noise: the float 1 divided by the float (1 - p); with p = 1
  // nothing is kept and its x * 0 is kept too.
  const float scale = mask.p < 1.0 ? 1.0f / float(1.0 - mask.p) : 0.0f;
  return select(bits < u32(threshold), 0.0f, scale);
}

void checkMask(const char *op, const DropoutMask &mask, const Tensor &t) {
  if (!(mask.p >= 0.0 && mask.p <= 1.0))
    detail::fail(op, "p must lie in [0, 1]");
  if (mask.channelwise && t.shape.size() != 4)
    detail::fail(op, "channelwise dropout takes [N, C, H, W]");
  if (!mask.seed.defined() || !mask.step.defined() ||
      !mask.firstSample.defined())
    detail::fail(op, "the seed, the step index or the first sample is not "
                     "defined");
  // The element index is an Int(32) expression.
  int64_t perSample = 1;
  for (size_t d = 1; d < t.shape.size(); ++d)
    perSample *= t.shape[d];
  if (perSample > std::numeric_limits<int32_t>::max())
    detail::fail(op, "more than 2^31 - 1 elements per sample");
}

/// `t` times its noise, checked: the forward op and its gradient alike.
template <typename Lowered>
Lowered multiplyByNoise(const char *op, const char *what, const Tensor &t,
                        const DropoutMask &mask, const std::string &name) {
  detail::checkTensor(op, what, t);
  checkMask(op, mask, t);
  Lowered result;
  result.inputs = {t};
  result.vars = detail::makeVars(name, t.shape.size());
  std::vector<Expr> at(result.vars.begin(), result.vars.end());
  Func out(detail::funcName(name));
  out(result.vars) = t.func(at) * noise(mask, result.vars, t.shape);
  result.output = {out, t.shape};
  return result;
}

} // namespace

LoweredOp dropout(const Tensor &input, const DropoutMask &mask,
                  const std::string &name) {
  LoweredOp result =
      multiplyByNoise<LoweredOp>("dropout", "input", input, mask, name);
  result.kind = OpKind::Elementwise;
  return result;
}

LoweredGrad dropoutGrad(const Tensor &dy, const DropoutMask &mask,
                        const std::string &name) {
  LoweredGrad result =
      multiplyByNoise<LoweredGrad>("dropout_grad", "dy", dy, mask, name);
  result.kind = GradKind::ElementwiseGrad;
  return result;
}

} // namespace cnnc::hl
