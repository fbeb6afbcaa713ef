// A validation split of a dataset, like torch.utils.data.random_split: a
// seeded random permutation of the samples, its first part held out for
// validation and the rest kept for training. Deterministic from the seed (its
// own stream: the same split whatever the shuffling and augmentation draw).
#ifndef CNNC_DATA_VALIDATIONSPLIT_H
#define CNNC_DATA_VALIDATIONSPLIT_H

#include "cnnc/Error.h"

#include <cstdint>
#include <vector>

namespace cnnc::rt::data {

struct SplitIndices {
  std::vector<int64_t> train, validation; // each in ascending order
};

// round(n * fraction) samples validate, the rest train; both parts must be
// non-empty. 0 < fraction < 1.
Expected<SplitIndices> splitForValidation(int64_t n, double fraction,
                                          uint64_t seed);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_VALIDATIONSPLIT_H
