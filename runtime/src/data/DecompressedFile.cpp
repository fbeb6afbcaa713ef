#include "cnnc/data/DecompressedFile.h"

#include "Gzip.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <vector>

namespace cnnc::rt::data {

namespace {

// A cached copy: this header, then the decompressed bytes.
struct CacheHeader {
  char magic[16];
  // The source it was decompressed from, as stat() saw it then.
  uint64_t sourceSize;
  uint64_t sourceMtimeNs;
  uint64_t sourceInode;
  uint64_t sourceDevice;
  uint64_t payloadSize;
  uint64_t reserved;
};
static_assert(sizeof(CacheHeader) == 64, "keeps the payload 64-byte aligned");

const char kCacheMagic[16] = "cnnc-gunzip-v1\n";

// Smaller files decompress in a few milliseconds: caching them would only
// fill the cache (with every temporary file a test or script makes).
const size_t kMinCachedSize = size_t{1} << 20;

struct SourceIdentity {
  uint64_t size, mtimeNs, inode, device;
};

bool identify(const std::string &path, SourceIdentity &out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return false;
  out = {static_cast<uint64_t>(st.st_size),
         static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000u +
             static_cast<uint64_t>(st.st_mtim.tv_nsec),
         static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_dev)};
  return true;
}

bool startsWithGzipMagic(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return false; // mapping it reports why
  unsigned char magic[2] = {0, 0};
  Expected<size_t> got = file->readAt(magic, 2, 0);
  return got && isGzip(magic, *got);
}

// 64-bit FNV-1a: names a cache entry after its source's path.
uint64_t fnv1a(const std::string &text) {
  uint64_t h = 0xcbf29ce484222325u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3u;
  }
  return h;
}

// The cached copy at `cachePath` when it was made from the source as it is
// now and is whole; nothing otherwise (missing, stale, cut short).
std::shared_ptr<const FileMapping> mapCachedCopy(const std::string &cachePath,
                                                 const SourceIdentity &source) {
  Expected<FileMapping> mapping = FileMapping::map(cachePath);
  if (!mapping || mapping->size() < sizeof(CacheHeader))
    return nullptr;
  CacheHeader h;
  std::memcpy(&h, mapping->data(), sizeof h);
  if (std::memcmp(h.magic, kCacheMagic, sizeof h.magic) != 0 ||
      h.sourceSize != source.size || h.sourceMtimeNs != source.mtimeNs ||
      h.sourceInode != source.inode || h.sourceDevice != source.device ||
      h.payloadSize != mapping->size() - sizeof(CacheHeader))
    return nullptr;
  return std::make_shared<const FileMapping>(std::move(*mapping));
}

// Best effort: a cache that cannot be written costs the next run a
// decompression, nothing else.
void writeCachedCopy(const std::string &cachePath, const SourceIdentity &source,
                     const Bytes &bytes) {
  std::string dir = cachePath.substr(0, cachePath.find_last_of('/'));
  if (!makeDirectories(dir))
    return;
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.sourceSize = source.size;
  h.sourceMtimeNs = source.mtimeNs;
  h.sourceInode = source.inode;
  h.sourceDevice = source.device;
  h.payloadSize = bytes.size();
  (void)writeFileAtomic(cachePath,
                        {{&h, sizeof h}, {bytes.data(), bytes.size()}});
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
  DecompressedFile out;
  if (!startsWithGzipMagic(path)) {
    Expected<FileMapping> mapping = FileMapping::map(path);
    if (!mapping)
      return mapping.error();
    out.size_ = mapping->size();
    if (out.size_ > 0)
      out.file_ = std::make_shared<const FileMapping>(std::move(*mapping));
    return out;
  }

  SourceIdentity source{};
  const std::string cachePath =
      identify(path, source) ? decompressedCachePath(path) : "";
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
  // decompressed from the file stat() described.
  SourceIdentity after{};
  if (!cachePath.empty() && bytes->size() >= kMinCachedSize &&
      identify(path, after) && std::memcmp(&after, &source, sizeof source) == 0)
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
