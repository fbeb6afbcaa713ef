// Helpers shared by the backward builders (not installed, not public).
#ifndef CNNC_HALIDE_LIB_GRADIENTSCOMMON_H
#define CNNC_HALIDE_LIB_GRADIENTSCOMMON_H

#include "Common.h"
#include "cnnc/halide/Gradients.h"

#include <stdexcept>
#include <string>

namespace cnnc::hl::detail {

/// Throws std::invalid_argument("<op>: <message>").
[[noreturn]] inline void fail(const char *op, const std::string &message) {
  throw std::invalid_argument(std::string(op) + ": " + message);
}

/// Throws unless `a` and `b` have the same shape.
inline void checkSameShape(const char *op, const char *what,
                           const cnn::shape::Shape &a,
                           const cnn::shape::Shape &b) {
  if (a != b)
    fail(op, std::string(what) + " shapes differ: " + cnn::shape::format(a) +
                 " vs " + cnn::shape::format(b));
}

/// Throws unless `shape` is [N, C, H, W] with static C, H, W.
inline void checkRank4(const char *op, const char *what,
                       const cnn::shape::Shape &shape) {
  if (shape.size() != 4)
    fail(op, std::string(what) + " must be [N, C, H, W], got " +
                 cnn::shape::format(shape));
  for (size_t i = 1; i < 4; ++i)
    if (shape[i] < 1)
      fail(op, std::string(what) +
                   " must have static dimensions after the "
                   "batch, got " +
                   cnn::shape::format(shape));
}

} // namespace cnnc::hl::detail

#endif // CNNC_HALIDE_LIB_GRADIENTSCOMMON_H
