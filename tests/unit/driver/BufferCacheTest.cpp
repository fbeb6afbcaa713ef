// The allocator generated libraries hand to Halide (compiler/driver/wrapper):
// large blocks are reused across pipeline calls, small ones are not cached,
// every block is aligned, and concurrent use is safe.
#include "buffer_cache.c"

#include "ForkTestUtil.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr size_t kLarge = 1 << 20;

/// Frees every cached block, so a test starts from an empty cache (what
/// happens when a library is unloaded).
void drainCache() { cnnc_cache_release(); }

bool aligned(void *p) {
  return reinterpret_cast<uintptr_t>(p) % CNNC_CACHE_ALIGN == 0;
}

TEST(BufferCache, ReusesAFreedLargeBlockForTheSameSize) {
  void *a = cnnc_cached_malloc(nullptr, kLarge);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(aligned(a));
  std::memset(a, 1, kLarge);
  cnnc_cached_free(nullptr, a);
  void *b = cnnc_cached_malloc(nullptr, kLarge);
  EXPECT_EQ(a, b);
  cnnc_cached_free(nullptr, b);
}

TEST(BufferCache, ReusesALargerBlockOnlyUpToTwiceTheSize) {
  drainCache();
  void *big = cnnc_cached_malloc(nullptr, 4 * kLarge);
  cnnc_cached_free(nullptr, big);
  void *half = cnnc_cached_malloc(nullptr, 2 * kLarge); // fits, wastes half
  EXPECT_EQ(half, big);
  cnnc_cached_free(nullptr, half);
  void *quarter = cnnc_cached_malloc(nullptr, kLarge); // would waste 3/4
  EXPECT_NE(quarter, big);
  cnnc_cached_free(nullptr, quarter);
}

TEST(BufferCache, PrefersTheTightestFit) {
  drainCache();
  void *large = cnnc_cached_malloc(nullptr, 3 * kLarge / 2);
  void *exact = cnnc_cached_malloc(nullptr, kLarge);
  cnnc_cached_free(nullptr, large);
  cnnc_cached_free(nullptr, exact);
  void *got = cnnc_cached_malloc(nullptr, kLarge);
  EXPECT_EQ(got, exact);
  cnnc_cached_free(nullptr, got);
}

TEST(BufferCache, SmallBlocksAreAlignedAndWritableAroundTheirEnds) {
  for (size_t size : {size_t(1), size_t(7), size_t(4096)}) {
    auto *p = static_cast<unsigned char *>(cnnc_cached_malloc(nullptr, size));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p));
    std::memset(p, 0xab, size);
    // Halide may read 8 bytes past either end of a block.
    volatile unsigned char before = p[-8], after = p[size + 7];
    (void)before;
    (void)after;
    cnnc_cached_free(nullptr, p);
  }
}

TEST(BufferCache, ReleaseEmptiesTheCache) {
  void *a = cnnc_cached_malloc(nullptr, kLarge);
  cnnc_cached_free(nullptr, a);
  EXPECT_GT(cnnc_cache_count, 0);
  cnnc_cache_release();
  EXPECT_EQ(cnnc_cache_count, 0);
}

TEST(BufferCache, FreeOfNullIsANoOpAndHugeRequestsFail) {
  cnnc_cached_free(nullptr, nullptr);
  EXPECT_EQ(cnnc_cached_malloc(nullptr, SIZE_MAX), nullptr);
}

// A deep network's training step (ResNet-18's frees 69 large blocks) must
// find all of its blocks again on the next call.
TEST(BufferCache, ReusesTheWholeWorkingSetOfADeepNetwork) {
  drainCache();
  constexpr int kBlocks = 160;
  std::vector<void *> blocks;
  for (int i = 0; i < kBlocks; ++i)
    blocks.push_back(cnnc_cached_malloc(nullptr, kCacheMinBytes));
  for (void *b : blocks)
    cnnc_cached_free(nullptr, b);
  EXPECT_EQ(cnnc_cache_count, kBlocks);
  // The next call takes every block from the cache.
  for (void *&b : blocks)
    b = cnnc_cached_malloc(nullptr, kCacheMinBytes);
  EXPECT_EQ(cnnc_cache_count, 0);
  for (void *b : blocks)
    cnnc_cached_free(nullptr, b);
  drainCache();
}

TEST(BufferCache, KeepsAtMostItsSlotsAndFreesTheRest) {
  drainCache();
  std::vector<void *> blocks;
  for (int i = 0; i < CNNC_CACHE_SLOTS + 8; ++i)
    blocks.push_back(cnnc_cached_malloc(nullptr, kCacheMinBytes));
  for (void *b : blocks)
    cnnc_cached_free(nullptr, b);
  EXPECT_EQ(cnnc_cache_count, CNNC_CACHE_SLOTS);
  drainCache();
}

TEST(BufferCache, ConcurrentAllocationsNeverShareABlock) {
  constexpr int kThreads = 4, kRounds = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &failures] {
      for (int r = 0; r < kRounds; ++r) {
        auto *p = static_cast<unsigned char *>(
            cnnc_cached_malloc(nullptr, kLarge + 4096 * (r % 3)));
        std::memset(p, t + 1, kLarge);
        for (size_t i = 0; i < kLarge; i += 4096)
          failures[t] += p[i] != t + 1;
        cnnc_cached_free(nullptr, p);
      }
    });
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
}

// A fork while another thread holds the cache's lock: the fork waits for
// it, and the child (a copy of the forking thread only) can still allocate
// and free.
TEST(BufferCache,
     AForkWhileAnotherThreadHoldsTheLockLeavesTheChildAWorkingCache) {
  std::atomic<bool> held{false};
  std::thread holder([&held] {
    pthread_mutex_lock(&cnnc_cache_lock);
    held = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pthread_mutex_unlock(&cnnc_cache_lock);
  });
  while (!held.load())
    std::this_thread::yield();
  const cnnc::test::ForkOutcome outcome = cnnc::test::forkRepeatedly(1, [] {
    void *p = cnnc_cached_malloc(nullptr, kLarge);
    cnnc_cached_free(nullptr, p);
    return p ? 0 : 1;
  });
  holder.join();
  EXPECT_EQ(outcome.hung, 0) << "the child hung on the cache's lock";
  EXPECT_EQ(outcome.failed, 0);
}

} // namespace
