// The thread-count tuner of cnnc train: its schedule of trials, the step
// times it takes from the epoch's clock, and its choice.
#include "cnnc/train/ThreadTuner.h"

#include <gtest/gtest.h>

namespace cnnc::rt {
namespace {

// Runs `steps` steps of `batches`-step epochs, step i taking
// `secondsOf(i, threads)`, starting at `start` threads; returns the thread
// count of every step.
template <class Time>
std::vector<int32_t> run(ThreadTuner &tuner, int steps, int32_t start,
                         Time secondsOf, int batches = 1000) {
  std::vector<int32_t> used;
  int32_t threads = start;
  double clock = 0;
  for (int i = 0; i < steps; ++i) {
    const int batch = i % batches + 1;
    if (batch == 1)
      clock = 0;
    used.push_back(threads);
    clock += secondsOf(i, threads);
    if (std::optional<int32_t> next = tuner.afterStep(batch, clock))
      threads = *next;
  }
  return used;
}

TEST(ThreadTunerTest, TriesEachCountInTurnThenKeepsTheFaster) {
  ThreadTuner tuner({1, 2}, /*warmupSteps=*/2, /*stepsPerTrial=*/3,
                    /*rounds=*/2);
  EXPECT_EQ(tuner.tuningSteps(), 14);
  std::vector<int32_t> used =
      run(tuner, 20, 2, [](int, int32_t t) { return t == 1 ? 0.001 : 0.0015; });
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
  run(tuner, 10, 4, [](int, int32_t t) { return t == 1 ? 0.004 : 0.002; });
  ASSERT_TRUE(tuner.chosen());
  EXPECT_EQ(*tuner.chosen(), 4);
}

// A median, not a mean: one slow step (another process) does not decide.
TEST(ThreadTunerTest, AnOutlierDoesNotDecide) {
  ThreadTuner tuner({1, 2}, 1, 5, 1);
  run(tuner, 12, 2, [](int i, int32_t t) {
    if (t == 2)
      return 0.002;
    return i == 3 ? 0.5 : 0.001;
  });
  EXPECT_EQ(*tuner.chosen(), 1);
}

// The first step of an epoch has no time (its clock restarted, and the
// evaluation before it is not a step); the others run from the end of the
// step before them.
TEST(ThreadTunerTest, StepTimesComeFromTheEpochClock) {
  ThreadTuner tuner({1, 2}, 1, 2, 1);
  EXPECT_EQ(tuner.afterStep(1, 5.0), std::optional<int32_t>(1)); // warm-up
  EXPECT_EQ(tuner.afterStep(2, 5.003), std::nullopt);            // 1: 3 ms
  EXPECT_EQ(tuner.afterStep(1, 0.5), std::optional<int32_t>(2)); // 1: none
  EXPECT_EQ(tuner.afterStep(2, 0.502), std::nullopt);            // 2: 2 ms
  EXPECT_EQ(tuner.afterStep(3, 0.5045), std::nullopt);           // 2: 2.5
  ASSERT_TRUE(tuner.chosen());
  EXPECT_EQ(*tuner.chosen(), 2);
  EXPECT_EQ(tuner.report(), "2 threads (median step 2.5 ms; 1 thread: 3 ms)");
  EXPECT_EQ(tuner.afterStep(4, 0.6), std::nullopt); // decided
}

// Warm-up is at least one step: the run starts on the last candidate.
TEST(ThreadTunerTest, StartsOnTheLastCandidate) {
  ThreadTuner tuner({1, 2}, /*warmupSteps=*/0, 1, 1);
  EXPECT_EQ(tuner.tuningSteps(), 3);
  std::vector<int32_t> used =
      run(tuner, 4, 2, [](int, int32_t t) { return t * 0.001; });
  EXPECT_EQ(used, (std::vector<int32_t>{2, 1, 2, 1}));
  EXPECT_EQ(*tuner.chosen(), 1);
}

TEST(ThreadTunerTest, OneCandidateIsChosenAtOnce) {
  ThreadTuner tuner({1});
  EXPECT_EQ(tuner.chosen(), std::optional<int32_t>(1));
  EXPECT_EQ(tuner.afterStep(2, 0.001), std::nullopt);
  EXPECT_EQ(tuner.report(), "1 thread");
}

} // namespace
} // namespace cnnc::rt
