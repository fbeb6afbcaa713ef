#include "Gzip.h"

#include "cnnc/FileIO.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>
#include <zlib.h>

namespace cnnc::rt::data {

namespace {

bool isGzip(const unsigned char *bytes, size_t size) {
  return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

} // namespace

// The compressed file and zlib's state. Heap-allocated: zlib's internal
// state points back at its z_stream, which must not move.
struct MaybeGzipReader::Inflater {
  Bytes compressed;
  size_t inPos = 0;
  bool ended = false; // the last member ended with the input
  z_stream zs{};
  ~Inflater() { inflateEnd(&zs); }
};

MaybeGzipReader::MaybeGzipReader(FileReader file) : file_(std::move(file)) {}
MaybeGzipReader::MaybeGzipReader(MaybeGzipReader &&) noexcept = default;
MaybeGzipReader &
MaybeGzipReader::operator=(MaybeGzipReader &&) noexcept = default;
MaybeGzipReader::~MaybeGzipReader() = default;

Expected<MaybeGzipReader> MaybeGzipReader::open(const std::string &path) {
  Expected<FileReader> file = FileReader::open(path);
  if (!file)
    return file.error();
  unsigned char magic[2];
  Expected<size_t> got = file->readAt(magic, 2, 0);
  if (!got)
    return got.error();
  MaybeGzipReader reader(std::move(*file));
  if (!isGzip(magic, *got))
    return reader; // plain: read() goes straight to the caller's buffers
  // Compressed: the whole file in memory, inflated as the caller reads.
  auto inflater = std::make_unique<Inflater>();
  try {
    inflater->compressed.resize(reader.file_.size());
  } catch (const std::bad_alloc &) {
    return Error(path + ": out of memory reading the file");
  }
  got = reader.file_.readAt(inflater->compressed.data(),
                            inflater->compressed.size(), 0);
  if (!got)
    return got.error();
  inflater->compressed.resize(*got);
  // 16 + MAX_WBITS: expect a gzip header and trailer, not raw zlib.
  if (inflateInit2(&inflater->zs, 16 + MAX_WBITS) != Z_OK)
    return Error(path + ": cannot initialise zlib");
  reader.inflater_ = std::move(inflater);
  return reader;
}

Expected<size_t> MaybeGzipReader::read(unsigned char *out, size_t size) {
  size_t done = 0;
  if (!inflater_) {
    Expected<size_t> got = file_.readAt(out, size, offset_);
    if (got)
      offset_ += *got;
    return got;
  }
  Inflater &f = *inflater_;
  const Bytes &in = f.compressed;
  while (done < size && !f.ended) {
    // zlib counts in uInt: at most UINT_MAX bytes at a time each way.
    f.zs.next_in = const_cast<Bytef *>(in.data() + f.inPos);
    f.zs.avail_in =
        static_cast<uInt>(std::min<size_t>(in.size() - f.inPos, UINT_MAX));
    f.zs.next_out = out + done;
    f.zs.avail_out = static_cast<uInt>(std::min<size_t>(size - done, UINT_MAX));
    const uInt availIn = f.zs.avail_in, availOut = f.zs.avail_out;
    const int rc = inflate(&f.zs, Z_NO_FLUSH);
    f.inPos += availIn - f.zs.avail_in;
    done += availOut - f.zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (f.inPos == in.size()) {
        f.ended = true;
        break;
      }
      // gzip allows concatenated members (as `cat a.gz b.gz` makes).
      if (!isGzip(in.data() + f.inPos, in.size() - f.inPos))
        return Error(file_.path() +
                     ": unexpected data after the end of the gzip stream");
      inflateReset(&f.zs);
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
      return Error(
          file_.path() + ": corrupt gzip data" +
          (f.zs.msg ? std::string(" (") + f.zs.msg + ")" : std::string()));
    if (rc == Z_MEM_ERROR)
      return Error(file_.path() + ": out of memory decompressing");
    // No progress with all input consumed: the stream stops early.
    if (rc == Z_BUF_ERROR || (f.inPos == in.size() && f.zs.avail_out != 0))
      return Error(file_.path() +
                   ": truncated gzip data (the file ends inside the "
                   "compressed stream)");
  }
  return done;
}

Expected<Bytes> MaybeGzipReader::readRest() {
  // A plain file's size is exact. A gzip trailer holds the size modulo 2^32:
  // a good first guess for an intact file; a truncated one ends in arbitrary
  // bytes, so the guess is bounded by deflate's best ratio (1032:1) and 1 GiB
  // to avoid a huge useless allocation.
  size_t hint = 0;
  if (!inflater_) {
    hint = file_.size() - std::min(file_.size(), offset_);
  } else {
    const Bytes &in = inflater_->compressed;
    if (in.size() >= 4)
      for (int i = 0; i < 4; ++i)
        hint |= static_cast<size_t>(in[in.size() - 4 + i]) << (8 * i);
    hint = std::min({hint, in.size() * 1032, size_t{1} << 30});
    hint -= std::min<size_t>(hint, inflater_->zs.total_out);
  }
  Bytes out;
  size_t done = 0;
  try {
    // One byte more than expected: an exact guess ends with room to spare.
    out.resize(std::max<size_t>(hint + 1, 1 << 16));
    while (true) {
      Expected<size_t> n = read(out.data() + done, out.size() - done);
      if (!n)
        return n.error();
      done += *n;
      if (done < out.size())
        break;
      // A full buffer: the data may go on (a plain file that grew, a wrong
      // gzip trailer).
      out.resize(out.size() * 2);
    }
  } catch (const std::bad_alloc &) {
    return Error(file_.path() + ": out of memory reading the file");
  }
  out.resize(done);
  return out;
}

} // namespace cnnc::rt::data
