// Helpers shared by the training tests (fake_model.c: a linear softmax
// classifier, input [N, 2, 2, 2] -> 3 classes, parameters fc.weight [3, 8]
// and fc.bias [3]).
#ifndef CNNC_TRAIN_TEST_UTIL_H
#define CNNC_TRAIN_TEST_UTIL_H

#include "TestUtil.h"

#include "cnnc/Commands.h"
#include "cnnc/Npy.h"
#include "cnnc/Tensor.h"

#include <sstream>
#include <string>
#include <vector>

namespace cnnc::rt::test {

struct CommandResult {
  int code;
  std::string out, err;
};

inline CommandResult runTrain(const std::vector<std::string> &args) {
  std::ostringstream out, err;
  int code = runTrainCommand(args, out, err);
  return {code, out.str(), err.str()};
}

inline CommandResult runEval(const std::vector<std::string> &args) {
  std::ostringstream out, err;
  int code = runEvalCommand(args, out, err);
  return {code, out.str(), err.str()};
}

// A linearly separable set of `n` samples [2, 2, 2]: sample i has class
// i % 3, feature (class) set to 2 and small deterministic noise elsewhere.
inline Tensor separableImages(int64_t n) {
  Tensor x(DType::F32, {n, 2, 2, 2});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < 8; ++f) {
      float noise = 0.05f * static_cast<float>((i * 7 + f * 3) % 11) - 0.25f;
      x.f32()[i * 8 + f] = (f == i % 3 ? 2.0f : 0.0f) + noise;
    }
  return x;
}

inline Tensor cyclicLabels(int64_t n) {
  Tensor y(DType::I64, {n});
  for (int64_t i = 0; i < n; ++i)
    y.i64()[i] = i % 3;
  return y;
}

// Writes images and labels .npy files; returns the npy: data spec.
inline std::string writeNpyData(const std::string &images,
                                const std::string &labels, const Tensor &x,
                                const Tensor &y) {
  EXPECT_TRUE(writeNpy(images, x).ok());
  EXPECT_TRUE(writeNpy(labels, y).ok());
  return "npy:" + images + "," + labels;
}

inline bool hasControlCharacters(const std::string &s) {
  for (char c : s)
    if ((static_cast<unsigned char>(c) < 32 && c != '\n') || c == 127)
      return true;
  return false;
}

} // namespace cnnc::rt::test

#endif // CNNC_TRAIN_TEST_UTIL_H
