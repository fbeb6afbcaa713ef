#include "cnnc/FileIO.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cnnc::rt {

static std::string errnoText(int err) { return std::strerror(err); }

Expected<FileReader> FileReader::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT)
      return Error(path + ": no such file");
    return Error(path + ": cannot open: " + errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(path + ": not a regular file");
  }
  return FileReader(path, fd, static_cast<uint64_t>(st.st_size));
}

FileReader::FileReader(FileReader &&other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)),
      size_(other.size_) {}

FileReader &FileReader::operator=(FileReader &&other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

FileReader::~FileReader() {
  if (fd_ >= 0)
    ::close(fd_);
}

Expected<size_t> FileReader::readAt(void *out, size_t size,
                                    uint64_t offset) const {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, static_cast<char *>(out) + done, size - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      const int err = errno;
      return Error(path_ + ": read error: " + errnoText(err));
    }
    if (n == 0)
      break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Expected<FileMapping> FileMapping::map(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return file.error();
  const uint64_t size = file->size();
  if (size == 0)
    return FileMapping(nullptr, 0);
  if (size > std::numeric_limits<size_t>::max())
    return Error(path + ": too large to map (" + std::to_string(size) +
                 " bytes)");
  // Read-only: a private writable mapping would be populated by copying
  // every page (the kernel breaks copy-on-write ahead of the writes).
  void *p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ,
                   MAP_PRIVATE | MAP_POPULATE, file->fd_, 0);
  if (p == MAP_FAILED)
    return Error(path + ": cannot map: " + errnoText(errno));
  return FileMapping(static_cast<const unsigned char *>(p),
                     static_cast<size_t>(size));
}

FileMapping::FileMapping(FileMapping &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

FileMapping &FileMapping::operator=(FileMapping &&other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

FileMapping::~FileMapping() { unmap(); }

void FileMapping::unmap() {
  if (data_)
    ::munmap(const_cast<unsigned char *>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

// The whole file into a std::string or Bytes.
template <class Buffer>
static Expected<Buffer> readWhole(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return file.error();
  Buffer data;
  try {
    data.resize(static_cast<size_t>(file->size()));
  } catch (const std::bad_alloc &) {
    return Error(path + ": out of memory reading " +
                 std::to_string(file->size()) + " bytes");
  }
  Expected<size_t> done = file->readAt(data.data(), data.size(), 0);
  if (!done)
    return done.error();
  data.resize(*done); // The file shrank while we read it; keep what we got.
  return data;
}

Expected<std::string> readFile(const std::string &path) {
  return readWhole<std::string>(path);
}

Expected<Bytes> readFileBytes(const std::string &path) {
  return readWhole<Bytes>(path);
}

static Status writeAll(int fd, const void *data, size_t size,
                       const std::string &path) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Error(path + ": write error: " + errnoText(errno));
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::success();
}

Status writeFileAtomic(const std::string &path,
                       const std::vector<ByteRange> &pieces, unsigned mode) {
  // O_EXCL with `mode` (by default 0666, not mkstemp's 0600) so the result
  // honours the umask like any file the user creates; pid + counter keep
  // concurrent writers apart.
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
          std::to_string(counter.fetch_add(1));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                static_cast<mode_t>(mode));
    if (fd < 0 && errno != EEXIST)
      return Error(path + ": cannot create: " + errnoText(errno));
  }
  if (fd < 0)
    return Error(path + ": cannot create a temporary file next to it");

  Status status = Status::success();
  for (const ByteRange &piece : pieces) {
    status = writeAll(fd, piece.data, piece.size, path);
    if (!status)
      break;
  }
  if (status && ::fsync(fd) != 0)
    status = Error(path + ": cannot flush: " + errnoText(errno));
  if (::close(fd) != 0 && status)
    status = Error(path + ": write error: " + errnoText(errno));
  if (status && ::rename(tmp.c_str(), path.c_str()) != 0)
    status = Error(path + ": cannot replace: " + errnoText(errno));
  if (!status)
    ::unlink(tmp.c_str());
  return status;
}

std::string userCacheDirectory() {
  const char *xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg)
    return std::string(xdg) + "/cnnc";
  const char *home = std::getenv("HOME");
  if (home && *home)
    return std::string(home) + "/.cache/cnnc";
  return "";
}

bool makeDirectories(const std::string &dir, unsigned mode) {
  if (dir.empty())
    return false;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0)
    return S_ISDIR(st.st_mode);
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0 &&
      !makeDirectories(dir.substr(0, slash), mode))
    return false;
  return ::mkdir(dir.c_str(), static_cast<mode_t>(mode)) == 0 ||
         errno == EEXIST;
}

Expected<ScratchDirectory> ScratchDirectory::create(const std::string &prefix) {
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!::mkdtemp(buffer.data()))
    return Error("cannot create a temporary directory like " + pattern + ": " +
                 errnoText(errno));
  return ScratchDirectory(std::string(buffer.data()));
}

ScratchDirectory::ScratchDirectory(ScratchDirectory &&other) noexcept
    : path_(std::move(other.path_)) {
  other.path_.clear();
}

ScratchDirectory &
ScratchDirectory::operator=(ScratchDirectory &&other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

ScratchDirectory::~ScratchDirectory() { remove(); }

void ScratchDirectory::remove() {
  if (path_.empty())
    return;
  std::error_code ignored; // best effort: a leftover folder in /tmp is harmless
  std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

} // namespace cnnc::rt
