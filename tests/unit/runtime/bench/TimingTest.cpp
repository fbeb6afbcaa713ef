// Timing a repeated call: warm-up, the number of runs, median / min / max.
#include "cnnc/bench/Timing.h"

#include <gtest/gtest.h>

namespace cnnc::rt::bench {
namespace {

TEST(TimingTest, ChoosesRunsForTheTargetTime) {
  TimingOptions o;
  o.targetSeconds = 1.5;
  o.minRuns = 10;
  EXPECT_EQ(chooseRuns(o, 0.01), 150);
  EXPECT_EQ(chooseRuns(o, 1.0), 10); // at least minRuns
  EXPECT_EQ(chooseRuns(o, 0.0), o.maxRuns);
  o.runs = 7;
  EXPECT_EQ(chooseRuns(o, 0.01), 7); // as asked
}

TEST(TimingTest, WarmsUpThenTimesTheRuns) {
  int calls = 0;
  TimingOptions o;
  o.runs = 5;
  Expected<Timing> t = timeCalls(
      [&] {
        ++calls;
        return Status::success();
      },
      8, o);
  ASSERT_TRUE(t) << t.message();
  EXPECT_EQ(calls, 3 + 5);
  EXPECT_EQ(t->runs, 5);
  EXPECT_LE(t->minSeconds, t->medianSeconds);
  EXPECT_LE(t->medianSeconds, t->maxSeconds);
  if (t->medianSeconds > 0) {
    EXPECT_DOUBLE_EQ(t->imagesPerSecond, 8 / t->medianSeconds);
  }
}

TEST(TimingTest, AFailingCallIsAnError) {
  int calls = 0;
  Expected<Timing> t = timeCalls(
      [&]() -> Status {
        if (++calls == 4)
          return Error("net.so: cnnc_forward failed");
        return Status::success();
      },
      1, TimingOptions{});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.message(), "net.so: cnnc_forward failed");
}

} // namespace
} // namespace cnnc::rt::bench
