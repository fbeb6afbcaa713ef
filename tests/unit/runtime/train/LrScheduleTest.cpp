// Learning rates per epoch, against values Python computes with torch's
// formulas.
#include <gtest/gtest.h>

#include "cnnc/train/LrSchedule.h"

namespace cnnc::rt {
namespace {

TEST(LrScheduleTest, ConstantKeepsTheBaseRate) {
  for (int64_t e : {0, 1, 100})
    EXPECT_EQ(learningRate(LrScheduleSpec{}, 0.05, e), 0.05);
}

TEST(LrScheduleTest, StepLRMatchesTorchExactly) {
  LrScheduleSpec s;
  s.kind = LrScheduleKind::Step;
  s.stepSize = 2;
  s.gamma = 0.1;
  // Python: [0.1 * 0.1 ** (e // 2) for e in range(6)]
  const double expected[] = {0.1,
                             0.1,
                             0.010000000000000002,
                             0.010000000000000002,
                             0.0010000000000000002,
                             0.0010000000000000002};
  for (int64_t e = 0; e < 6; ++e)
    EXPECT_EQ(learningRate(s, 0.1, e), expected[e]) << "epoch " << e;
}

TEST(LrScheduleTest, CosineAnnealingMatchesTheClosedForm) {
  LrScheduleSpec s;
  s.kind = LrScheduleKind::Cosine;
  s.tMax = 10;
  s.etaMin = 0.001;
  // Python: 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2
  const std::pair<int64_t, double> expected[] = {
      {0, 0.1},    {1, 0.09757729755661011},
      {5, 0.0505}, {9, 0.0034227024433899004},
      {10, 0.001}, {15, 0.05049999999999999}};
  for (auto [e, lr] : expected)
    EXPECT_DOUBLE_EQ(learningRate(s, 0.1, e), lr) << "epoch " << e;
}

} // namespace
} // namespace cnnc::rt
