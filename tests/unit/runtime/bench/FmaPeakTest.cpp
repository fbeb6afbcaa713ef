// The FMA peak: a measurement that gives a positive number, and its cache
// (keyed by CPU model and thread count, tolerant of a broken file).
#include "cnnc/bench/FmaPeak.h"

#include "TestUtil.h"

#include <cstdlib>

namespace cnnc::rt::bench {
namespace {

using test::TempDirTest;

TEST(FmaPeakTest, MeasuresAPositivePeakOnOneAndTwoThreads) {
  double one = measureFmaPeak(1, 0.03);
  double two = measureFmaPeak(2, 0.03);
  EXPECT_GT(one, 0.1);
  EXPECT_GT(two, 0.1);
  EXPECT_TRUE(std::string(fmaIsa()) == "avx512" ||
              std::string(fmaIsa()) == "avx2+fma" ||
              std::string(fmaIsa()) == "scalar");
}

TEST(FmaPeakTest, ReadsTheCpuModel) { EXPECT_FALSE(cpuModelName().empty()); }

using FmaPeakCacheTest = TempDirTest;

TEST_F(FmaPeakCacheTest, KeysEntriesByCpuAndThreads) {
  const std::string file = path("nested/dir/fma-peak.json");
  EXPECT_FALSE(readCachedFmaPeak(file, "cpu A", 1)); // no file yet
  ASSERT_TRUE(writeCachedFmaPeak(file, "cpu A", 1, 100.0)) << file;
  ASSERT_TRUE(writeCachedFmaPeak(file, "cpu A", 2, 190.0));
  ASSERT_TRUE(writeCachedFmaPeak(file, "cpu B", 1, 50.0));
  EXPECT_EQ(readCachedFmaPeak(file, "cpu A", 1), 100.0);
  EXPECT_EQ(readCachedFmaPeak(file, "cpu A", 2), 190.0);
  EXPECT_EQ(readCachedFmaPeak(file, "cpu B", 1), 50.0);
  EXPECT_FALSE(readCachedFmaPeak(file, "cpu B", 2));
  EXPECT_FALSE(readCachedFmaPeak(file, "cpu C", 1));
  // Writing an entry again replaces it and keeps the others.
  ASSERT_TRUE(writeCachedFmaPeak(file, "cpu A", 1, 110.0));
  EXPECT_EQ(readCachedFmaPeak(file, "cpu A", 1), 110.0);
  EXPECT_EQ(readCachedFmaPeak(file, "cpu B", 1), 50.0);
}

TEST_F(FmaPeakCacheTest, ABrokenCacheIsIgnoredAndReplaced) {
  const std::string file = path("fma-peak.json");
  test::writeBytes(file, "{not json");
  EXPECT_FALSE(readCachedFmaPeak(file, "cpu A", 1));
  ASSERT_TRUE(writeCachedFmaPeak(file, "cpu A", 1, 42.0));
  EXPECT_EQ(readCachedFmaPeak(file, "cpu A", 1), 42.0);
  test::writeBytes(
      file, R"({"entries": [{"cpu": "cpu A", "threads": "1", "gflops": 1},
                                         {"cpu": "cpu A", "threads": 1, "gflops": -5}]})");
  EXPECT_FALSE(readCachedFmaPeak(file, "cpu A", 1));
}

TEST_F(FmaPeakCacheTest, UsesTheCacheUnlessAskedToRemeasure) {
  const std::string file = path("fma-peak.json");
  ASSERT_TRUE(writeCachedFmaPeak(file, cpuModelName(), 1, 12345.0));
  EXPECT_EQ(fmaPeak(1, /*remeasure=*/false, file), 12345.0);
  double measured = fmaPeak(1, /*remeasure=*/true, file);
  EXPECT_GT(measured, 0.0);
  EXPECT_NE(measured, 12345.0);
  EXPECT_EQ(readCachedFmaPeak(file, cpuModelName(), 1), measured);
  // A missing entry is measured and cached.
  EXPECT_FALSE(readCachedFmaPeak(file, cpuModelName(), 3));
  double three = fmaPeak(3, false, file);
  EXPECT_EQ(readCachedFmaPeak(file, cpuModelName(), 3), three);
}

TEST_F(FmaPeakCacheTest, AnUnwritableCacheOnlyCostsAMeasurement) {
  EXPECT_GT(fmaPeak(1, false, "/proc/cnnc-no-such-dir/fma-peak.json"), 0.0);
  EXPECT_FALSE(writeCachedFmaPeak("/proc/cnnc-no-such-dir/fma-peak.json", "cpu",
                                  1, 1.0));
  EXPECT_GT(fmaPeak(1, false, ""), 0.0); // no cache at all
}

TEST_F(FmaPeakCacheTest, TheDefaultCacheFollowsXdgCacheHome) {
  const char *old = std::getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
  EXPECT_EQ(defaultFmaPeakCacheFile(), path("cnnc/fma-peak.json"));
  unsetenv("XDG_CACHE_HOME");
  const char *home = std::getenv("HOME");
  if (home && *home) {
    EXPECT_EQ(defaultFmaPeakCacheFile(),
              std::string(home) + "/.cache/cnnc/fma-peak.json");
  }
  if (old)
    setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

} // namespace
} // namespace cnnc::rt::bench
