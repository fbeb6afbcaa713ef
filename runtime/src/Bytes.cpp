#include "cnnc/Bytes.h"

#include <cstdlib>
#include <sys/mman.h>

namespace cnnc::rt {

namespace {

const size_t kHugePage = size_t{2} << 20;
// Every dtype's vector loads stay aligned.
const size_t kSmallAlignment = 64;

} // namespace

void *allocateBytes(size_t size) {
  if (size < kHugePage) {
    size_t rounded =
        (size + kSmallAlignment - 1) / kSmallAlignment * kSmallAlignment;
    return std::aligned_alloc(kSmallAlignment, rounded ? rounded : 64);
  }
  if (size > static_cast<size_t>(-1) - kHugePage)
    return nullptr;
  size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
  void *p = std::aligned_alloc(kHugePage, rounded);
  // Advice only: without transparent huge pages the block still works.
  if (p)
    madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

void freeBytes(void *p) noexcept { std::free(p); }

} // namespace cnnc::rt
