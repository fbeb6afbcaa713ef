// Random numbers for data loading with a fixed definition: the standard
// distributions and std::shuffle differ between standard libraries, so a seed
// would not give the same batches everywhere. Only std::mt19937_64, which the
// standard specifies exactly, and the functions below are used.
#ifndef CNNC_DATA_RANDOM_H
#define CNNC_DATA_RANDOM_H

#include <cstdint>
#include <random>
#include <vector>

namespace cnnc::rt::data {

// A 64-bit seed for an independent stream: splitmix64 applied to `seed` and
// each of `a`, `b` in turn (e.g. (seed, epoch, sample index)).
uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b);

// Uniform in [0, n), n >= 1, without modulo bias (rejection sampling).
uint64_t uniformBelow(std::mt19937_64 &rng, uint64_t n);

// Uniform in [0, 1) with 53 random bits.
double uniformUnit(std::mt19937_64 &rng);

// Fisher-Yates shuffle drawing with uniformBelow.
void shuffle(std::vector<int64_t> &values, std::mt19937_64 &rng);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_RANDOM_H
