// Loss, accuracy and the confusion matrix of known logits.
#include "TrainTestUtil.h"

#include "cnnc/train/Evaluate.h"

#include <cmath>

namespace cnnc::rt {
namespace {

TEST(EvaluateTest, CountsAConfusionMatrixAndComputesTheLossInDouble) {
  EvalResult r(3);
  const float logits[] = {
      5, 0, 0, // true 0, predicted 0
      0, 5, 0, // true 0, predicted 1
      0, 0, 5, // true 2, predicted 2
      1, 1, 0, // true 1, tie: the first largest (0)
  };
  const int64_t labels[] = {0, 0, 2, 1};
  r.add(logits, labels, 4);
  EXPECT_EQ(r.samples, 4);
  EXPECT_EQ(r.correct, 2);
  EXPECT_DOUBLE_EQ(r.accuracy(), 0.5);
  EXPECT_EQ(r.count(0, 0), 1);
  EXPECT_EQ(r.count(0, 1), 1);
  EXPECT_EQ(r.count(2, 2), 1);
  EXPECT_EQ(r.count(1, 0), 1);
  EXPECT_EQ(r.count(1, 1), 0);
  const double big = std::log(std::exp(5.0) + 2.0);
  const double expected = ((big - 5) + (big - 0) + (big - 5) +
                           (std::log(2 * std::exp(1.0) + 1.0) - 1)) /
                          4;
  EXPECT_NEAR(r.loss(), expected, 1e-12);

  EXPECT_EQ(formatConfusionMatrix(r, {}),
            "true \\ predicted  0  1  2   recall\n"
            "0                 1  1  0   50.00%\n"
            "1                 1  0  0    0.00%\n"
            "2                 0  0  1  100.00%\n");
  EXPECT_TRUE(
      test::contains(formatConfusionMatrix(r, {"cat", "dog", "T-shirt/top"}),
                     "2 T-shirt/top     0  0  1  100.00%\n"));
}

TEST(EvaluateTest, AClassWithoutSamplesHasNoRecall) {
  EvalResult r(2);
  const float logits[] = {1, 0};
  const int64_t labels[] = {0};
  r.add(logits, labels, 1);
  EXPECT_TRUE(test::contains(formatConfusionMatrix(r, {}),
                             "1                 0  0        -\n"));
}

} // namespace
} // namespace cnnc::rt
