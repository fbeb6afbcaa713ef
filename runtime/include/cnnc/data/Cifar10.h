// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
// records of 1 label byte + 3072 pixel bytes (the 32x32 red plane, then
// green, then blue, each row-major).
#ifndef CNNC_DATA_CIFAR10_H
#define CNNC_DATA_CIFAR10_H

#include "cnnc/Error.h"
#include "cnnc/data/Dataset.h"

#include <string>
#include <vector>

namespace cnnc::rt::data {

// airplane, automobile, ..., truck: the names batches.meta.txt holds.
std::vector<std::string> cifar10ClassNames();

// Train: DIR/data_batch_1.bin .. data_batch_5.bin, all five required, in
// that order; test: DIR/test_batch.bin. Class names come from
// DIR/batches.meta.txt when present (ten non-empty lines), else the standard
// ones. Images become [N, 3, 32, 32] scaled to [0, 1] (x / 255).
Expected<Dataset> loadCifar10(const std::string &dir, Split split);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_CIFAR10_H
