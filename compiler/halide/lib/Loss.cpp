// Softmax cross-entropy: the loss and its gradient wrt the logits.
#include "GradientsCommon.h"

namespace cnnc::hl {

using namespace Halide;

namespace {

/// The parts shared by the loss and its gradient: the row max m(n) and
/// s(n) = sum_k exp(l(k, n) - m(n)), both stored, and the label as int32
/// (clamped into [0, K) for the reads).
struct Softmax {
  Func rowMax, sumExp;
  Expr label; // label(n) as Int(32), not clamped
  int classes;
};

Softmax softmaxParts(const char *op, const Tensor &logits, const Func &labels,
                     Var n, const std::string &name) {
  detail::checkTensor(op, "logits", logits);
  if (logits.shape.size() != 2)
    detail::fail(op, "logits must be [N, K], got " +
                         cnn::shape::format(logits.shape));
  if (!labels.defined() || labels.dimensions() != 1 || labels.outputs() != 1)
    detail::fail(op, "labels must be a 1-D Func label(n)");
  Type t = labels.output_types()[0];
  if (t != Int(32) && t != Int(64))
    detail::fail(op, "labels must be Int(32) or Int(64)");

  Softmax s;
  s.classes = int(logits.shape[1]);
  RDom k(0, s.classes, detail::funcName(name, "_k"));
  s.rowMax = Func(detail::funcName(name, "_max"));
  s.rowMax(n) = logits.func(0, n);
  s.rowMax(n) = max(s.rowMax(n), logits.func(k, n));
  s.sumExp = Func(detail::funcName(name, "_sumexp"));
  s.sumExp(n) = 0.0f;
  s.sumExp(n) += exp(logits.func(k, n) - s.rowMax(n));
  s.label = cast<int>(labels(n));
  return s;
}

} // namespace

LoweredGrad softmaxCrossEntropy(const Tensor &logits, const Func &labels,
                                const Expr &batch, const std::string &name) {
  const char *op = "softmax_cross_entropy";
  LoweredGrad result;
  result.kind = GradKind::SoftmaxCrossEntropy;
  result.inputs = {logits};
  Var n(detail::funcName(name + "_n"));
  Softmax s = softmaxParts(op, logits, labels, n, name);

  // logsumexp - l[label] = log(s) + m - l[label]: no overflow, and the
  // difference m - l[label] >= 0 is formed before adding log(s) >= 0.
  Func perSample(detail::funcName(name, "_sample"));
  perSample(n) =
      log(s.sumExp(n)) +
      (s.rowMax(n) - logits.func(clamp(s.label, 0, s.classes - 1), n));
  result.stored = {s.rowMax, s.sumExp, perSample};

  result.rdom = RDom(0, batch, detail::funcName(name, "_r"));
  result.accum = Func(detail::funcName(name, "_accum"));
  result.accum() = 0.0f;
  result.accum() += perSample(result.rdom.x);
  Func out(detail::funcName(name));
  out() = result.accum() / cast<float>(batch);
  result.output = {out, {}};
  return result;
}

LoweredGrad softmaxCrossEntropyGrad(const Tensor &logits, const Func &labels,
                                    const Expr &batch, const Expr &dloss,
                                    const std::string &name) {
  const char *op = "softmax_cross_entropy_grad";
  LoweredGrad result;
  result.kind = GradKind::SoftmaxCrossEntropyGrad;
  result.inputs = {logits};
  result.vars = detail::makeVars(name, 2);
  Var k = result.vars[0], n = result.vars[1];
  Softmax s = softmaxParts(op, logits, labels, n, name);
  result.stored = {s.rowMax, s.sumExp};

  Expr softmax = exp(logits.func(k, n) - s.rowMax(n)) / s.sumExp(n);
  Expr onehot = select(k == s.label, 1.0f, 0.0f);
  Expr scale = cast<float>(dloss) / cast<float>(batch);
  Func out(detail::funcName(name));
  out(k, n) = (softmax - onehot) * scale;
  result.output = {out, logits.shape};
  return result;
}

} // namespace cnnc::hl
