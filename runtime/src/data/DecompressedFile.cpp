#include "cnnc/data/DecompressedFile.h"

#include "Gzip.h"

#include "cnnc/Hash.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <vector>

namespace cnnc::rt::data {

namespace {

// What a cached copy was decompressed from: the source as stat() saw it
// then, and its gzip trailer (the CRC-32 and size of the data), so that a
// rewrite of the same size within one tick of the file system's clock is
// caught too.
struct SourceIdentity {
  uint64_t size, mtimeNs, ctimeNs, inode, device, trailer;
};

// A cached copy: this header, then the decompressed bytes.
struct CacheHeader {
  char magic[16];
  SourceIdentity source;
  uint64_t payloadSize;
  char padding[56];
};
static_assert(sizeof(CacheHeader) == 128, "keeps the payload 64-byte aligned");

const char kCacheMagic[16] = "cnnc-gunzip-v2\n";

// Smaller files decompress in a few milliseconds: caching them would only
// fill the cache (with every temporary file a test or script makes).
const size_t kMinCachedSize = size_t{1} << 20;

uint64_t nanoseconds(const struct timespec &t) {
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u +
         static_cast<uint64_t>(t.tv_nsec);
}

bool identify(const FileReader &file, SourceIdentity &out) {
  struct stat st {};
  if (::stat(file.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < 8)
    return false;
  out = {static_cast<uint64_t>(st.st_size), nanoseconds(st.st_mtim),
         nanoseconds(st.st_ctim),           static_cast<uint64_t>(st.st_ino),
         static_cast<uint64_t>(st.st_dev),  0};
  Expected<size_t> got = file.readAt(&out.trailer, 8, out.size - 8);
  return got && *got == 8;
}

bool sameSource(const SourceIdentity &a, const SourceIdentity &b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Whether the cached copy at `cachePath` was made from `source` and is whole
// (its header read alone: a stale copy is not mapped).
bool validCachedCopy(const std::string &cachePath,
                     const SourceIdentity &source) {
  Expected<FileReader> cached = FileReader::open(cachePath);
  if (!cached || cached->size() < sizeof(CacheHeader))
    return false;
  CacheHeader h;
  Expected<size_t> got = cached->readAt(&h, sizeof h, 0);
  return got && *got == sizeof h &&
         std::memcmp(h.magic, kCacheMagic, sizeof h.magic) == 0 &&
         sameSource(h.source, source) &&
         h.payloadSize == cached->size() - sizeof(CacheHeader);
}

// The cached copy, mapped, when it is valid (see validCachedCopy). The
// cache only ever replaces a copy by renaming a new file over it, so a
// mapped copy never shrinks under its reader.
std::shared_ptr<const FileMapping> mapCachedCopy(const std::string &cachePath,
                                                 const SourceIdentity &source) {
  if (!validCachedCopy(cachePath, source))
    return nullptr;
  Expected<FileMapping> mapping = FileMapping::map(cachePath);
  if (!mapping || mapping->size() < sizeof(CacheHeader))
    return nullptr;
  CacheHeader h;
  std::memcpy(&h, mapping->data(), sizeof h);
  // Checked again in case another process replaced it in between.
  if (!sameSource(h.source, source) ||
      h.payloadSize != mapping->size() - sizeof(CacheHeader))
    return nullptr;
  return std::make_shared<const FileMapping>(std::move(*mapping));
}

// Best effort: a cache that cannot be written costs the next run a
// decompression, nothing else. Private to the user (the dataset may be).
void writeCachedCopy(const std::string &cachePath, const SourceIdentity &source,
                     const Bytes &bytes) {
  std::string dir = cachePath.substr(0, cachePath.find_last_of('/'));
  if (!makeDirectories(dir, 0700))
    return;
  // Another process (an MPI rank) may have written it meanwhile.
  if (validCachedCopy(cachePath, source))
    return;
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.source = source;
  h.payloadSize = bytes.size();
  (void)writeFileAtomic(cachePath,
                        {{&h, sizeof h}, {bytes.data(), bytes.size()}}, 0600);
}

} // namespace

std::string decompressedCachePath(const std::string &path) {
  std::string root = userCacheDirectory();
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::canonical(path, ec);
  if (root.empty() || ec)
    return "";
  std::string name = absolute.filename().string();
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
    name.resize(name.size() - 3);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(fnv1a(absolute.string())));
  return root + "/decompressed/" + name + "-" + hash;
}

Expected<DecompressedFile> DecompressedFile::read(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return file.error();
  unsigned char magic[2] = {0, 0};
  Expected<size_t> got = file->readAt(magic, 2, 0);
  if (!got)
    return got.error();
  DecompressedFile out;
  if (!isGzip(magic, *got)) {
    // Read, not mapped: a file the user rewrites in place while cnnc runs
    // would otherwise change under it, or end it with SIGBUS.
    Expected<Bytes> bytes = readFileBytes(path);
    if (!bytes)
      return bytes.error();
    out.size_ = bytes->size();
    out.bytes_ = std::move(*bytes);
    return out;
  }

  SourceIdentity source{};
  const std::string cachePath =
      identify(*file, source) ? decompressedCachePath(path) : "";
  if (!cachePath.empty())
    if (std::shared_ptr<const FileMapping> cached =
            mapCachedCopy(cachePath, source)) {
      out.file_ = std::move(cached);
      out.offset_ = sizeof(CacheHeader);
      out.size_ = out.file_->size() - sizeof(CacheHeader);
      return out;
    }

  Expected<Bytes> bytes = decompressGzipFile(path);
  if (!bytes)
    return bytes.error();
  // The source may have changed while it was read: cache only what was
  // decompressed from the file identify() described.
  SourceIdentity after{};
  if (!cachePath.empty() && bytes->size() >= kMinCachedSize &&
      identify(*file, after) && sameSource(after, source))
    writeCachedCopy(cachePath, source, *bytes);
  out.size_ = bytes->size();
  out.bytes_ = std::move(*bytes);
  return out;
}

Expected<Tensor> DecompressedFile::takeTensor(DType dtype, Shape shape,
                                              size_t offset,
                                              const std::string &what) {
  DecompressedFile taken = std::move(*this);
  *this = DecompressedFile();
  if (taken.file_)
    return Tensor::view(dtype, std::move(shape), std::move(taken.file_),
                        taken.offset_ + offset, what);
  Bytes &bytes = taken.bytes_;
  bytes.erase(bytes.begin(),
              bytes.begin() +
                  static_cast<std::ptrdiff_t>(std::min(offset, bytes.size())));
  return Tensor::adopt(dtype, std::move(shape), std::move(bytes), what);
}

} // namespace cnnc::rt::data
