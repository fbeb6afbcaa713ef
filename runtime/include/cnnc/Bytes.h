// Byte storage for tensors and whole files, allocated so that large blocks
// are cheap to touch the first time.
//
// The kernel maps a fresh allocation page by page as it is first written:
// a 47 MB Fashion-MNIST image array costs about 12,000 page faults in 4 KiB
// pages (137-168 ms measured on the development VM, against 7-27 ms for the
// same memset in 2 MiB pages). Blocks of 2 MiB and more are therefore
// aligned to 2 MiB and offered to transparent huge pages with
// madvise(MADV_HUGEPAGE), which the kernel honours in its "always" and
// "madvise" modes and ignores in "never". The price: such a block's last
// huge page may be mostly unused (a 2.1 MiB block can hold 4 MiB).
#ifndef CNNC_BYTES_H
#define CNNC_BYTES_H

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace cnnc::rt {

// The raw allocation behind LargeBlockAllocator: `size` bytes aligned to at
// least 64, or null when out of memory; freed with freeBytes.
void *allocateBytes(size_t size);
void freeBytes(void *p) noexcept;

template <class T> struct LargeBlockAllocator {
  using value_type = T;
  LargeBlockAllocator() = default;
  template <class U> LargeBlockAllocator(const LargeBlockAllocator<U> &) {}
  T *allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T))
      throw std::bad_alloc();
    void *p = allocateBytes(n * sizeof(T));
    if (!p)
      throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) noexcept { freeBytes(p); }
  // resize() leaves new elements uninitialised (they are about to be read
  // into); assign(n, value) and the like still set them.
  template <class U> void construct(U *p) noexcept {
    ::new (static_cast<void *>(p)) U;
  }
  template <class U, class... Args> void construct(U *p, Args &&...args) {
    ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
  }
  template <class U> bool operator==(const LargeBlockAllocator<U> &) const {
    return true;
  }
  template <class U> bool operator!=(const LargeBlockAllocator<U> &) const {
    return false;
  }
};

using Bytes = std::vector<unsigned char, LargeBlockAllocator<unsigned char>>;

} // namespace cnnc::rt

#endif // CNNC_BYTES_H
