// Decompressing gzip files (private to the data loaders).
#ifndef CNNC_DATA_GZIP_H
#define CNNC_DATA_GZIP_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"

#include <cstddef>
#include <string>

namespace cnnc::rt::data {

// The decompressed bytes of the gzip file at `path` (one or more
// concatenated members, each checksum verified), in a buffer that can become
// a tensor's storage. Errors name the file: missing, unreadable, corrupt or
// truncated gzip data, out of memory.
Expected<Bytes> decompressGzipFile(const std::string &path);

// Whether `bytes` start with the gzip magic number.
bool isGzip(const unsigned char *bytes, size_t size);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_GZIP_H
