// The bytes of a data file that may be gzip-compressed (the data loaders use
// it):
//  - a plain file is read into memory (not mapped: a file rewritten in place
//    while cnnc runs would change under it, or end the process with SIGBUS);
//  - a gzip file that decompresses to 1 MiB or more is decompressed once: the
//    bytes are kept in the user's cache (userCacheDirectory()/decompressed/,
//    private to the user), tagged with the source's size, times, inode and
//    gzip trailer, and later reads of the unchanged file map them from there
//    (the cache replaces a copy only by renaming a new one over it, so a
//    mapped copy never changes). The FeedForwardNet's whole Fashion-MNIST
//    `cnnc train` run took 0.44 s this way against 0.50 s decompressing
//    (docs/data.md); torchvision likewise keeps uncompressed copies.
// Where the cache cannot be written (no home, a read-only disk) the bytes
// are decompressed into memory on every read; the cache is an optimisation,
// never a source of errors.
#ifndef CNNC_DATA_DECOMPRESSEDFILE_H
#define CNNC_DATA_DECOMPRESSEDFILE_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"
#include "cnnc/FileIO.h"
#include "cnnc/Tensor.h"

#include <cstddef>
#include <memory>
#include <string>

namespace cnnc::rt::data {

class DecompressedFile {
public:
  // Errors name `path`: missing, unreadable, corrupt or truncated gzip data.
  static Expected<DecompressedFile> read(const std::string &path);
  DecompressedFile() = default;
  DecompressedFile(DecompressedFile &&) = default;
  DecompressedFile &operator=(DecompressedFile &&) = default;
  DecompressedFile(const DecompressedFile &) = delete;
  DecompressedFile &operator=(const DecompressedFile &) = delete;

  const unsigned char *data() const {
    return file_ ? file_->data() + offset_ : bytes_.data();
  }
  size_t size() const { return size_; }
  // Whether the bytes are read in place from a cached copy.
  bool mapped() const { return file_ != nullptr; }

  // The elements of `dtype` and `shape` that the bytes from `offset` on are
  // (the caller has checked their size): a view of the mapping, or else the
  // bytes moved into the tensor, those before `offset` dropped. Leaves this
  // empty.
  Expected<Tensor> takeTensor(DType dtype, Shape shape, size_t offset,
                              const std::string &what);

private:
  std::shared_ptr<const FileMapping> file_;
  size_t offset_ = 0; // of the bytes in file_ (a cached copy's header first)
  size_t size_ = 0;
  Bytes bytes_; // decompressed in memory, when not mapped
};

// Where the decompressed copy of the gzip file at `path` is (or would be)
// cached; empty without a cache directory or when `path` does not exist.
std::string decompressedCachePath(const std::string &path);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_DECOMPRESSEDFILE_H
