// FNV-1a (64 bits): a hash with a fixed definition (std::hash differs
// between standard libraries), for seeds, checksums and names that must
// agree across machines and runs.
#ifndef CNNC_HASH_H
#define CNNC_HASH_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace cnnc::rt {

constexpr uint64_t kFnv1aBasis = 14695981039346656037ull;

// Continues `hash` over `size` bytes.
inline uint64_t fnv1a(const void *bytes, size_t size,
                      uint64_t hash = kFnv1aBasis) {
  const unsigned char *p = static_cast<const unsigned char *>(bytes);
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

inline uint64_t fnv1a(const std::string &text) {
  return fnv1a(text.data(), text.size());
}

} // namespace cnnc::rt

#endif // CNNC_HASH_H
