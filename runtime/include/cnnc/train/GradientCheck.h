// The gradient check of a first course in deep learning, made to work in
// float32: each parameter tensor's analytic gradient g against central
// finite differences of the loss along a few directions d (JAX's
// check_grads does the same): the change of the loss between p + h*d and
// p - h*d against g . (p+ - p-), with p+ and p- the float32 values actually
// evaluated, so the rounding of the perturbation does not count.
//
// No single step h suits float32 networks with ReLU and max pooling: a step
// small enough to cross no kink changes the loss by a few of its rounding
// units (about 1e-7 of it), and a step large enough to rise above those
// crosses kinks (both give errors of a few percent on LeNet at batch 4,
// where float64 agrees to 1e-10 at the small step). So several steps are
// tried, each changing the loss by a given fraction of itself, and a
// direction's error is the smallest: a wrong gradient is wrong at every
// step.
#ifndef CNNC_TRAIN_GRADIENTCHECK_H
#define CNNC_TRAIN_GRADIENTCHECK_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cnnc::rt {

struct GradientCheckOptions {
  // Directions per tensor: the gradient's own, then (directions - 1) that
  // mix it with a random one (so every element's gradient counts).
  int directions = 3;
  // The steps tried, each as the loss change it aims at relative to
  // max(|loss|, 1), in order, until an error is at most `goodEnough`.
  std::vector<double> relativeChanges = {1e-3, 3e-4, 1e-4, 3e-3,
                                         1e-2, 3e-5, 1e-5};
  double goodEnough = 1e-3;
  // Seeds the random directions.
  uint64_t seed = 0;
};

struct ParameterGradientCheck {
  std::string name;
  Shape shape;
  double gradientNorm = 0;
  // |fd - analytic| / max(|fd|, |analytic|, noise) per direction (the
  // smallest over the steps tried; infinite for a non-finite loss), and
  // their maximum. `noise` is 64 float32 rounding units of max(|loss|, 1).
  std::vector<double> errors;
  double worstError = 0;
};

// The loss at the given parameters (all of them, in the model's order).
using LossFunction =
    std::function<Expected<double>(const std::vector<const Tensor *> &)>;

// Checks `gradients[i]` (float32, the shape of parameters[i]) of each
// parameter with `checked[i]` against finite differences of `loss` around
// `parameters`; the results are in parameter order, checked ones only.
// An error from `loss` is returned as it is; a non-finite loss at
// `parameters` or a non-finite gradient is an error.
Expected<std::vector<ParameterGradientCheck>>
checkGradients(const std::vector<ParameterSpec> &specs,
               const std::vector<const Tensor *> &parameters,
               const std::vector<bool> &checked,
               const std::vector<const Tensor *> &gradients,
               const LossFunction &loss, const GradientCheckOptions &options);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_GRADIENTCHECK_H
