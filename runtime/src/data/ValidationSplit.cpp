#include "cnnc/data/ValidationSplit.h"

#include "cnnc/data/Random.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace cnnc::rt::data {

namespace {
const uint64_t kSplitStream = 0x56414c53504c54ull; // "VALSPLT"
} // namespace

Expected<SplitIndices> splitForValidation(int64_t n, double fraction,
                                          uint64_t seed) {
  if (!(fraction > 0 && fraction < 1))
    return Error("the validation split must be a fraction between 0 and 1 "
                 "(exclusive), not " +
                 std::to_string(fraction));
  const int64_t held = std::llround(static_cast<double>(n) * fraction);
  if (held < 1 || held >= n)
    return Error(
        "a validation split of " + std::to_string(fraction) + " of " +
        std::to_string(n) + " images leaves " +
        (held < 1 ? "no image to validate on" : "no image to train on"));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::mt19937_64 rng(mixSeed(seed ^ kSplitStream, 0, 0));
  shuffle(order, rng);
  SplitIndices split;
  split.validation.assign(order.begin(), order.begin() + held);
  split.train.assign(order.begin() + held, order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

} // namespace cnnc::rt::data
