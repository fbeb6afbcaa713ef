// Whole-file reads, atomic whole-file writes, scratch directories.
#ifndef CNNC_FILEIO_H
#define CNNC_FILEIO_H

#include "cnnc/Bytes.h"
#include "cnnc/Error.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cnnc::rt {

// The bytes of a file; errors name the path ("x.npy: no such file").
Expected<std::string> readFile(const std::string &path);
// The same in Bytes, for large files (datasets, weights, arrays).
Expected<Bytes> readFileBytes(const std::string &path);

// A regular file open for reading at any offset; closed when destroyed.
class FileReader {
public:
  // Errors name the path: no such file, cannot open, not a regular file.
  static Expected<FileReader> open(const std::string &path);
  FileReader(FileReader &&other) noexcept;
  FileReader &operator=(FileReader &&other) noexcept;
  FileReader(const FileReader &) = delete;
  FileReader &operator=(const FileReader &) = delete;
  ~FileReader();

  const std::string &path() const { return path_; }
  uint64_t size() const { return size_; } // when opened
  // Reads up to `size` bytes at `offset` into `out`: fewer only where the
  // file ends.
  Expected<size_t> readAt(void *out, size_t size, uint64_t offset) const;

private:
  friend class FileMapping;
  FileReader(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A regular file mapped read-only into memory, whole, its pages read ahead
// (MAP_POPULATE): a file already in the page cache costs no copy and no
// fresh zeroed memory. Unmapped when destroyed. The bytes must not be written.
class FileMapping {
public:
  // Errors name the path: no such file, cannot open, not a regular file,
  // cannot map. An empty file maps to no bytes.
  static Expected<FileMapping> map(const std::string &path);
  FileMapping(FileMapping &&other) noexcept;
  FileMapping &operator=(FileMapping &&other) noexcept;
  FileMapping(const FileMapping &) = delete;
  FileMapping &operator=(const FileMapping &) = delete;
  ~FileMapping();

  const unsigned char *data() const { return data_; }
  size_t size() const { return size_; }

private:
  FileMapping(const unsigned char *data, size_t size)
      : data_(data), size_(size) {}
  void unmap();
  const unsigned char *data_ = nullptr;
  size_t size_ = 0;
};

// A piece of the data to write.
struct ByteRange {
  const void *data;
  size_t size;
};

// Writes the concatenation of `pieces` to a new file in the same directory
// as `path`, then renames it over `path`: a reader never sees half a file,
// and a failed write leaves any old file as it was.
// The file gets `mode` less the umask.
Status writeFileAtomic(const std::string &path,
                       const std::vector<ByteRange> &pieces,
                       unsigned mode = 0666);

// $XDG_CACHE_HOME/cnnc, else $HOME/.cache/cnnc: where cnnc keeps what it
// can compute again (measured peaks, decoded datasets); empty when neither
// variable is set.
std::string userCacheDirectory();

// Creates `dir` and its missing parents (`mode` less the umask); true when
// it exists as a directory afterwards.
bool makeDirectories(const std::string &dir, unsigned mode = 0755);

// A new directory under $TMPDIR (default /tmp), removed with everything in
// it when the object is destroyed.
class ScratchDirectory {
public:
  // "/tmp/PREFIX-XXXXXX", or an Error saying it could not be made.
  static Expected<ScratchDirectory> create(const std::string &prefix);
  ScratchDirectory(ScratchDirectory &&other) noexcept;
  ScratchDirectory &operator=(ScratchDirectory &&other) noexcept;
  ScratchDirectory(const ScratchDirectory &) = delete;
  ScratchDirectory &operator=(const ScratchDirectory &) = delete;
  ~ScratchDirectory();

  const std::string &path() const { return path_; }

private:
  explicit ScratchDirectory(std::string path) : path_(std::move(path)) {}
  void remove();
  std::string path_;
};

} // namespace cnnc::rt

#endif // CNNC_FILEIO_H
