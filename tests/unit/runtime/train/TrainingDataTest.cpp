// The recipe's transforms, in torchvision's order, for training and evaluation.
#include "TestUtil.h"

#include "cnnc/train/TrainingData.h"

namespace cnnc::rt {
namespace {

std::vector<std::string> describe(const data::TransformList &list) {
  std::vector<std::string> out;
  for (const auto &t : list)
    out.push_back(t->describe());
  return out;
}

TEST(TrainingDataTest, TransferLearningTransforms) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"normalize": {"mean": [0.5], "std": [0.25]},
          "augment": {"random_resized_crop": {"size": 8}, "horizontal_flip": true},
          "eval_transform": {"resize": 10, "center_crop": 8}})",
      "net.so");
  ASSERT_TRUE(r.ok()) << r.message();
  Expected<data::TransformList> train = recipeTransforms(*r, true);
  ASSERT_TRUE(train.ok()) << train.message();
  EXPECT_EQ(
      describe(*train),
      (std::vector<std::string>{
          "RandomResizedCrop(8, scale=(0.08, 1), ratio=(0.75, 1.33333))",
          "RandomHorizontalFlip(p=0.5)", "Normalize(mean=[0.5], std=[0.25])"}));
  Expected<data::TransformList> eval = recipeTransforms(*r, false);
  ASSERT_TRUE(eval.ok()) << eval.message();
  EXPECT_EQ(describe(*eval),
            (std::vector<std::string>{"Resize(10)", "CenterCrop(8)",
                                      "Normalize(mean=[0.5], std=[0.25])"}));
}

TEST(TrainingDataTest, WithoutRandomResizedCropTrainingUsesTheEvalSizing) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"augment": {"random_crop": {"size": 8, "padding": 1}, "horizontal_flip": 0.25},
          "eval_transform": {"resize": [8, 8]}})",
      "net.so");
  ASSERT_TRUE(r.ok()) << r.message();
  Expected<data::TransformList> train = recipeTransforms(*r, true);
  ASSERT_TRUE(train.ok()) << train.message();
  EXPECT_EQ(describe(*train), (std::vector<std::string>{
                                  "Resize((8, 8))", "RandomCrop(8, padding=1)",
                                  "RandomHorizontalFlip(p=0.25)"}));
  EXPECT_EQ(describe(*recipeTransforms(*r, false)),
            (std::vector<std::string>{"Resize((8, 8))"}));
}

} // namespace
} // namespace cnnc::rt
