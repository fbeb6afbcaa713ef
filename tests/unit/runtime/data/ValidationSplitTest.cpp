// The seeded validation split: sizes, disjoint parts covering every sample,
// determinism, errors.
#include "DataTestUtil.h"

#include "cnnc/data/ValidationSplit.h"

#include <algorithm>

namespace cnnc::rt::data {
namespace {

TEST(ValidationSplitTest, PartsAreDisjointSortedAndCoverEverySample) {
  Expected<SplitIndices> s = splitForValidation(10, 0.25, 7);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->validation.size(), 3u); // llround(2.5): half away from zero
  EXPECT_EQ(s->train.size(), 7u);
  EXPECT_TRUE(std::is_sorted(s->train.begin(), s->train.end()));
  EXPECT_TRUE(std::is_sorted(s->validation.begin(), s->validation.end()));
  std::vector<int64_t> all = s->train;
  all.insert(all.end(), s->validation.begin(), s->validation.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 10; ++i)
    EXPECT_EQ(all[static_cast<size_t>(i)], i);
}

TEST(ValidationSplitTest, DeterministicFromTheSeed) {
  EXPECT_EQ(splitForValidation(1000, 0.2, 3)->validation,
            splitForValidation(1000, 0.2, 3)->validation);
  EXPECT_NE(splitForValidation(1000, 0.2, 3)->validation,
            splitForValidation(1000, 0.2, 4)->validation);
  // Not a prefix or a stride of the file order: a random part.
  std::vector<int64_t> v = splitForValidation(1000, 0.2, 3)->validation;
  EXPECT_EQ(v.size(), 200u);
  EXPECT_LT(v.front(), 50);
  EXPECT_GT(v.back(), 950);
}

TEST(ValidationSplitTest, BothPartsMustHoldImages) {
  EXPECT_ERROR_CONTAINS(
      splitForValidation(3, 0.1, 0),
      "a validation split of 0.100000 of 3 images leaves no image to "
      "validate on");
  EXPECT_ERROR_CONTAINS(splitForValidation(3, 0.9, 0),
                        "leaves no image to train on");
  EXPECT_ERROR_CONTAINS(splitForValidation(3, 0.0, 0), "between 0 and 1");
}

} // namespace
} // namespace cnnc::rt::data
