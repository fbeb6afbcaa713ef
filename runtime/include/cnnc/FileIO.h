// Whole-file reads and atomic whole-file writes.
#ifndef CNNC_FILEIO_H
#define CNNC_FILEIO_H

#include "cnnc/Error.h"

#include <cstddef>
#include <string>
#include <vector>

namespace cnnc::rt {

// The bytes of a file; errors name the path ("x.npy: no such file").
Expected<std::string> readFile(const std::string &path);

// A piece of the data to write.
struct ByteRange {
  const void *data;
  size_t size;
};

// Writes the concatenation of `pieces` to a new file in the same directory
// as `path`, then renames it over `path`: a reader never sees half a file,
// and a failed write leaves any old file as it was.
Status writeFileAtomic(const std::string &path,
                       const std::vector<ByteRange> &pieces);

} // namespace cnnc::rt

#endif // CNNC_FILEIO_H
