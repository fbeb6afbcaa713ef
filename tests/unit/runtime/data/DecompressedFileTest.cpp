// Data files read in place, and gzip files decompressed once into the cache.
#include "DataTestUtil.h"

#include "cnnc/data/DecompressedFile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace cnnc::rt::data {
namespace {

using test::contains;
using test::readBytes;
using test::writeBytes;
using test::writeGzip;

// The cache goes where XDG_CACHE_HOME says: a folder of the test's own.
class DecompressedFileTest : public test::PrivateCacheTest {
protected:
  static std::string text(const DecompressedFile &f) {
    return std::string(reinterpret_cast<const char *>(f.data()), f.size());
  }
  // Large enough to be cached (1 MiB or more), different at every byte
  // offset modulo 251, compressible.
  static std::string large(char salt) {
    std::string s((size_t{3} << 19) + 5, '\0');
    for (size_t i = 0; i < s.size(); ++i)
      s[i] = static_cast<char>(i % 251 + salt);
    return s;
  }
};

TEST_F(DecompressedFileTest, PlainFilesAreReadAsTheyAre) {
  writeBytes(path("plain"), "not compressed");
  Expected<DecompressedFile> f = DecompressedFile::read(path("plain"));
  ASSERT_TRUE(f) << f.message();
  EXPECT_FALSE(f->mapped()); // read: a rewrite in place cannot reach it
  EXPECT_EQ(text(*f), "not compressed");
  EXPECT_FALSE(std::filesystem::exists(path("cache")));

  Expected<DecompressedFile> missing = DecompressedFile::read(path("nope"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.message(), "nope: no such file"))
      << missing.message();
}

TEST_F(DecompressedFileTest, GzipIsDecompressedOnceThenMappedFromTheCache) {
  const std::string bytes = large('a');
  writeGzip(path("data.gz"), bytes);
  const std::string cached = decompressedCachePath(path("data.gz"));
  ASSERT_TRUE(contains(cached, path("cache") + "/cnnc/decompressed/data-"))
      << cached;

  Expected<DecompressedFile> first = DecompressedFile::read(path("data.gz"));
  ASSERT_TRUE(first) << first.message();
  EXPECT_FALSE(first->mapped());
  EXPECT_EQ(text(*first), bytes);
  ASSERT_TRUE(std::filesystem::exists(cached));

  Expected<DecompressedFile> second = DecompressedFile::read(path("data.gz"));
  ASSERT_TRUE(second) << second.message();
  EXPECT_TRUE(second->mapped());
  EXPECT_EQ(text(*second), bytes);

  // A tensor of the bytes after a 5-byte header, read in place.
  Expected<Tensor> t = second->takeTensor(
      DType::U8, {static_cast<int64_t>(bytes.size() - 5)}, 5, "data.gz");
  ASSERT_TRUE(t) << t.message();
  EXPECT_TRUE(t->isFileView());
  EXPECT_EQ(static_cast<const Tensor &>(*t).u8()[0],
            static_cast<uint8_t>(bytes[5]));
}

TEST_F(DecompressedFileTest, AChangedSourceIsDecompressedAgain) {
  writeGzip(path("data.gz"), large('a'));
  ASSERT_TRUE(DecompressedFile::read(path("data.gz")));
  // Same name, new contents (and size, modification time).
  std::filesystem::remove(path("data.gz"));
  const std::string changed = large('b') + "more";
  writeGzip(path("data.gz"), changed);
  Expected<DecompressedFile> f = DecompressedFile::read(path("data.gz"));
  ASSERT_TRUE(f) << f.message();
  EXPECT_FALSE(f->mapped());
  EXPECT_EQ(text(*f), changed);
  Expected<DecompressedFile> again = DecompressedFile::read(path("data.gz"));
  ASSERT_TRUE(again) << again.message();
  EXPECT_TRUE(again->mapped());
  EXPECT_EQ(text(*again), changed);
}

TEST_F(DecompressedFileTest, ARewriteOfTheSameSizeIsDecompressedAgain) {
  const std::string before = large('a'), after = large('b');
  ASSERT_EQ(before.size(), after.size());
  writeGzip(path("data.gz"), before);
  ASSERT_TRUE(DecompressedFile::read(path("data.gz")));
  // Rewritten in place at once (same inode, possibly the same clock tick);
  // both compress to the same size.
  writeGzip(path("other.gz"), after);
  const std::string gz = readBytes(path("other.gz"));
  ASSERT_EQ(gz.size(), readBytes(path("data.gz")).size());
  writeBytes(path("data.gz"), gz);
  Expected<DecompressedFile> f = DecompressedFile::read(path("data.gz"));
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ(text(*f), after);
}

TEST_F(DecompressedFileTest, TheCacheIsPrivateToTheUser) {
  writeGzip(path("data.gz"), large('a'));
  ASSERT_TRUE(DecompressedFile::read(path("data.gz")));
  const std::string cached = decompressedCachePath(path("data.gz"));
  namespace fs = std::filesystem;
  const fs::perms others = fs::perms::group_all | fs::perms::others_all;
  EXPECT_EQ(fs::status(cached).permissions() & others, fs::perms::none);
  EXPECT_EQ(fs::status(fs::path(cached).parent_path()).permissions() & others,
            fs::perms::none);
}

TEST_F(DecompressedFileTest, ABrokenCacheEntryIsIgnoredAndReplaced) {
  const std::string bytes = large('c');
  writeGzip(path("data.gz"), bytes);
  ASSERT_TRUE(DecompressedFile::read(path("data.gz")));
  const std::string cached = decompressedCachePath(path("data.gz"));
  for (const std::string &broken :
       {readBytes(cached).substr(0, 1000), std::string("short"),
        "x" + readBytes(cached).substr(1)}) {
    writeBytes(cached, broken);
    Expected<DecompressedFile> f = DecompressedFile::read(path("data.gz"));
    ASSERT_TRUE(f) << f.message();
    EXPECT_FALSE(f->mapped());
    EXPECT_EQ(text(*f), bytes);
    EXPECT_EQ(readBytes(cached).size(), bytes.size() + 128);
  }
}

TEST_F(DecompressedFileTest,
       SmallFilesAndNoCacheFolderAreDecompressedEachTime) {
  writeGzip(path("small.gz"), "a small file");
  for (int i = 0; i < 2; ++i) {
    Expected<DecompressedFile> f = DecompressedFile::read(path("small.gz"));
    ASSERT_TRUE(f) << f.message();
    EXPECT_FALSE(f->mapped());
    EXPECT_EQ(text(*f), "a small file");
  }
  EXPECT_FALSE(std::filesystem::exists(path("cache")));

  // The cache folder cannot be made (a file is in the way): still read.
  writeBytes(path("cache"), "a file, not a folder");
  const std::string bytes = large('d');
  writeGzip(path("data.gz"), bytes);
  for (int i = 0; i < 2; ++i) {
    Expected<DecompressedFile> f = DecompressedFile::read(path("data.gz"));
    ASSERT_TRUE(f) << f.message();
    EXPECT_FALSE(f->mapped());
    Expected<Tensor> t = f->takeTensor(
        DType::U8, {static_cast<int64_t>(bytes.size() - 1)}, 1, "data.gz");
    ASSERT_TRUE(t) << t.message();
    EXPECT_FALSE(t->isFileView());
    EXPECT_EQ(static_cast<const Tensor &>(*t).u8()[0],
              static_cast<uint8_t>(bytes[1]));
  }
}

TEST_F(DecompressedFileTest, CorruptGzipIsAnErrorAndNotCached) {
  writeGzip(path("data.gz"), large('e'));
  std::string gz = readBytes(path("data.gz"));
  gz[gz.size() - 6] ^= 0x55; // the CRC
  writeBytes(path("data.gz"), gz);
  Expected<DecompressedFile> f = DecompressedFile::read(path("data.gz"));
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.message(), "data.gz: corrupt gzip data"))
      << f.message();
  EXPECT_FALSE(std::filesystem::exists(decompressedCachePath(path("data.gz"))));
}

} // namespace
} // namespace cnnc::rt::data
