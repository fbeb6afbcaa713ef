// The thread-count tuner of cnnc train: its schedule of trials and choice.
#include "cnnc/train/ThreadTuner.h"

#include <gtest/gtest.h>

namespace cnnc::rt {
namespace {

// Runs `steps` steps, each taking `secondsAt(threads)`, starting at
// `start` threads; returns the thread count of every step.
template <class Time>
std::vector<int32_t> run(ThreadTuner &tuner, int steps, int32_t start,
                         Time secondsAt) {
  std::vector<int32_t> used;
  int32_t threads = start;
  for (int i = 0; i < steps; ++i) {
    used.push_back(threads);
    if (std::optional<int32_t> next = tuner.afterStep(secondsAt(threads)))
      threads = *next;
  }
  return used;
}

TEST(ThreadTunerTest, TriesEachCountInTurnThenKeepsTheFaster) {
  ThreadTuner tuner({1, 2}, /*warmupSteps=*/2, /*stepsPerTrial=*/3,
                    /*rounds=*/2);
  std::vector<int32_t> used =
      run(tuner, 20, 2, [](int32_t t) { return t == 1 ? 0.001 : 0.0015; });
  const std::vector<int32_t> expected = {2, 2,             // warm-up
                                         1, 1, 1, 2, 2, 2, // round 1
                                         1, 1, 1, 2, 2, 2, // round 2
                                         1, 1, 1, 1, 1, 1};
  EXPECT_EQ(used, expected);
  ASSERT_TRUE(tuner.chosen());
  EXPECT_EQ(*tuner.chosen(), 1);
  EXPECT_EQ(tuner.report(), "1 thread (median step 1 ms; 2 threads: 1.5 ms)");
}

TEST(ThreadTunerTest, KeepsAllCoresWhenTheyAreFaster) {
  ThreadTuner tuner({1, 4}, 1, 2, 1);
  run(tuner, 10, 4, [](int32_t t) { return t == 1 ? 0.004 : 0.002; });
  ASSERT_TRUE(tuner.chosen());
  EXPECT_EQ(*tuner.chosen(), 4);
}

// A median, not a mean: one slow step (another process) does not decide.
TEST(ThreadTunerTest, AnOutlierDoesNotDecide) {
  ThreadTuner tuner({1, 2}, 0, 5, 1);
  int calls = 0;
  run(tuner, 12, 1, [&](int32_t t) {
    ++calls;
    if (t == 2)
      return 0.002;
    return calls == 3 ? 0.5 : 0.001;
  });
  EXPECT_EQ(*tuner.chosen(), 1);
}

// Steps without a time (the first of an epoch) count as steps, not times.
TEST(ThreadTunerTest, UnknownTimesAreSkipped) {
  ThreadTuner tuner({1, 2}, 0, 2, 1);
  EXPECT_EQ(tuner.afterStep(std::nullopt), std::nullopt); // 1st of trial 1
  EXPECT_EQ(tuner.afterStep(0.003), std::optional<int32_t>(2));
  EXPECT_EQ(tuner.afterStep(0.002), std::nullopt);
  EXPECT_EQ(tuner.afterStep(std::nullopt), std::nullopt); // kept: 2
  EXPECT_EQ(*tuner.chosen(), 2);
  EXPECT_EQ(tuner.report(), "2 threads (median step 2 ms; 1 thread: 3 ms)");
  EXPECT_EQ(tuner.afterStep(0.1), std::nullopt); // decided
}

TEST(ThreadTunerTest, OneCandidateIsChosenAtOnce) {
  ThreadTuner tuner({1});
  EXPECT_EQ(tuner.chosen(), std::optional<int32_t>(1));
  EXPECT_EQ(tuner.afterStep(0.001), std::nullopt);
  EXPECT_EQ(tuner.report(), "1 thread");
}

} // namespace
} // namespace cnnc::rt
