#include "cnnc/data/Random.h"

#include <utility>

namespace cnnc::rt::data {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): decorrelates nearby inputs such as
// consecutive epochs or sample indices.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace

uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

uint64_t uniformBelow(std::mt19937_64 &rng, uint64_t n) {
  // Accept only draws below the largest multiple of n, so each residue is
  // equally likely.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = rng();
  while (x >= limit);
  return x % n;
}

double uniformUnit(std::mt19937_64 &rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

void shuffle(std::vector<int64_t> &values, std::mt19937_64 &rng) {
  for (size_t i = values.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(uniformBelow(rng, i));
    std::swap(values[i - 1], values[j]);
  }
}

} // namespace cnnc::rt::data
