// Reading files that may be gzip-compressed (private to the data loaders).
#ifndef CNNC_DATA_GZIP_H
#define CNNC_DATA_GZIP_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"
#include "cnnc/FileIO.h"

#include <cstdint>
#include <memory>
#include <string>

namespace cnnc::rt::data {

// A file read front to back, decompressed on the way when it starts with the
// gzip magic (whatever its name; one or more concatenated members), as is
// otherwise. A header is read first, then the rest into a buffer that can
// become a tensor's storage, so a large file is held once, decompressed.
// Errors name the file: missing, unreadable, corrupt or truncated gzip data.
class MaybeGzipReader {
public:
  static Expected<MaybeGzipReader> open(const std::string &path);
  MaybeGzipReader(MaybeGzipReader &&) noexcept;
  MaybeGzipReader &operator=(MaybeGzipReader &&) noexcept;
  ~MaybeGzipReader();

  // Reads up to `size` bytes into `out`: fewer only where the data ends.
  Expected<size_t> read(unsigned char *out, size_t size);
  // Reads everything left into one buffer, sized from the file's size (or
  // a gzip file's trailer) so that an intact file is read without copies.
  Expected<Bytes> readRest();

private:
  struct Inflater;
  explicit MaybeGzipReader(FileReader file);
  FileReader file_;
  uint64_t offset_ = 0;                // in a plain file, read as it is
  std::unique_ptr<Inflater> inflater_; // a gzip file, read whole
};

} // namespace cnnc::rt::data

#endif // CNNC_DATA_GZIP_H
