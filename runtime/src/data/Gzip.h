// Reading files that may be gzip-compressed (private to the data loaders).
#ifndef CNNC_DATA_GZIP_H
#define CNNC_DATA_GZIP_H

#include "cnnc/Error.h"

#include <string>

namespace cnnc::rt::data {

// The contents of `path`, decompressed when it starts with the gzip magic
// (whatever its name), as is otherwise. Errors name the file: missing,
// corrupt or truncated gzip data.
Expected<std::string> readMaybeGzipped(const std::string &path);

// Decompresses gzip data (one or more concatenated members).
Expected<std::string> gunzip(const std::string &compressed,
                             const std::string &path);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_GZIP_H
