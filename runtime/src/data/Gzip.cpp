#include "Gzip.h"

#include "cnnc/FileIO.h"

#include <algorithm>
#include <climits>
#include <new>
#include <zlib.h>

namespace cnnc::rt::data {

namespace {

bool isGzip(const std::string &bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Ends the zlib stream however the function returns.
struct InflateGuard {
  z_stream *zs;
  ~InflateGuard() { inflateEnd(zs); }
};

} // namespace

Expected<std::string> gunzip(const std::string &in, const std::string &path) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header and trailer, not raw zlib.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return Error(path + ": cannot initialise zlib");
  InflateGuard guard{&zs};

  std::string out;
  try {
    // The trailer holds the size modulo 2^32: a good first guess for an
    // intact file. A truncated one ends in arbitrary bytes, so bound the guess
    // by deflate's best ratio (1032:1) to avoid a huge useless allocation.
    size_t hint = 0;
    if (in.size() >= 4)
      for (int i = 0; i < 4; ++i)
        hint |= static_cast<size_t>(
                    static_cast<unsigned char>(in[in.size() - 4 + i]))
                << (8 * i);
    hint = std::min({hint, in.size() * 1032, size_t{1} << 30});
    out.resize(std::max<size_t>(hint, 1 << 16));
  } catch (const std::bad_alloc &) {
    return Error(path + ": out of memory decompressing");
  }

  size_t inPos = 0, outPos = 0;
  while (true) {
    if (outPos == out.size()) {
      try {
        out.resize(out.size() * 2);
      } catch (const std::bad_alloc &) {
        return Error(path + ": out of memory decompressing");
      }
    }
    // zlib counts in uInt: feed at most UINT_MAX bytes at a time.
    zs.next_in =
        reinterpret_cast<Bytef *>(const_cast<char *>(in.data() + inPos));
    zs.avail_in =
        static_cast<uInt>(std::min<size_t>(in.size() - inPos, UINT_MAX));
    zs.next_out = reinterpret_cast<Bytef *>(out.data() + outPos);
    zs.avail_out =
        static_cast<uInt>(std::min<size_t>(out.size() - outPos, UINT_MAX));
    uInt availIn = zs.avail_in, availOut = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    inPos += availIn - zs.avail_in;
    outPos += availOut - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (inPos == in.size())
        break;
      // gzip allows concatenated members (as `cat a.gz b.gz` makes).
      if (!isGzip(in.substr(inPos, 2)))
        return Error(path +
                     ": unexpected data after the end of the gzip stream");
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
      return Error(path + ": corrupt gzip data" +
                   (zs.msg ? std::string(" (") + zs.msg + ")" : std::string()));
    if (rc == Z_MEM_ERROR)
      return Error(path + ": out of memory decompressing");
    // No progress with all input consumed: the stream stops early.
    if (rc == Z_BUF_ERROR || (inPos == in.size() && zs.avail_out != 0))
      return Error(path + ": truncated gzip data (the file ends inside the "
                          "compressed stream)");
  }
  out.resize(outPos);
  return out;
}

Expected<std::string> readMaybeGzipped(const std::string &path) {
  Expected<std::string> bytes = readFile(path);
  if (!bytes || !isGzip(*bytes))
    return bytes;
  return gunzip(*bytes, path);
}

} // namespace cnnc::rt::data
