// The training recipe JSON: defaults, every key, errors.
#include "TestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/train/Recipe.h"

namespace cnnc::rt {
namespace {

TEST(RecipeTest, EmptyRecipeHasPyTorchDefaults) {
  for (const char *text : {"{}", "null"}) {
    Expected<TrainingRecipe> r = parseTrainingRecipe(text, "net.so");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->batchSize, 1);
    EXPECT_EQ(r->epochs, 1);
    EXPECT_EQ(r->sgd.lr, 0.001);
    EXPECT_EQ(r->sgd.momentum, 0.0);
    EXPECT_EQ(r->sgd.weightDecay, 0.0);
    EXPECT_FALSE(r->sgd.nesterov);
    EXPECT_EQ(r->schedule.kind, LrScheduleKind::Constant);
    EXPECT_FALSE(r->normalize.has_value());
    EXPECT_FALSE(r->augment.randomCrop.has_value());
    EXPECT_EQ(r->augment.horizontalFlip, 0.0);
    EXPECT_FALSE(r->augment.randomResizedCrop.has_value());
    EXPECT_FALSE(r->evalTransform.has_value());
    EXPECT_EQ(r->valSplit, 0.0);
    EXPECT_TRUE(r->keepBest);
  }
}

TEST(RecipeTest, ParsesTheTransferLearningDataKeys) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"augment": {"random_resized_crop": {"size": [224, 200], "scale": [0.2, 0.9],
                                              "ratio": [0.5, 2]},
                      "horizontal_flip": true},
          "eval_transform": {"resize": 256, "center_crop": 224},
          "val_split": 0.2, "keep_best": false})",
      "net.so");
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_TRUE(r->augment.randomResizedCrop.has_value());
  const RandomResizedCropSpec &c = *r->augment.randomResizedCrop;
  EXPECT_EQ(c.height, 224);
  EXPECT_EQ(c.width, 200);
  EXPECT_EQ(c.scaleMin, 0.2);
  EXPECT_EQ(c.scaleMax, 0.9);
  EXPECT_EQ(c.ratioMin, 0.5);
  EXPECT_EQ(c.ratioMax, 2.0);
  ASSERT_TRUE(r->evalTransform.has_value());
  EXPECT_EQ(r->evalTransform->resizeShorter, 256);
  EXPECT_EQ(r->evalTransform->resizeHeight, 0);
  EXPECT_EQ(r->evalTransform->cropHeight, 224);
  EXPECT_EQ(r->evalTransform->cropWidth, 224);
  EXPECT_EQ(r->valSplit, 0.2);
  EXPECT_FALSE(r->keepBest);

  // torchvision's defaults for scale and ratio; resize to an exact size.
  r = parseTrainingRecipe(R"({"augment": {"random_resized_crop": {"size": 8}},
                              "eval_transform": {"resize": [9, 10]}})",
                          "net.so");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->augment.randomResizedCrop->scaleMin, 0.08);
  EXPECT_EQ(r->augment.randomResizedCrop->ratioMax, 4.0 / 3.0);
  EXPECT_EQ(r->evalTransform->resizeShorter, 0);
  EXPECT_EQ(r->evalTransform->resizeHeight, 9);
  EXPECT_EQ(r->evalTransform->resizeWidth, 10);
  EXPECT_EQ(r->evalTransform->cropHeight, 0);
}

TEST(RecipeTest, TransferLearningDataErrors) {
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"scale": [0.1, 1]}}})", "n"),
      "n: training recipe: augment.random_resized_crop.size is required");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"size": 4, "scale": [0.5, 1.5]}}})",
          "n"),
      "augment.random_resized_crop.scale must be [min, max] with 0 < min <= "
      "max <= 1, not "
      "[0.5,1.5]");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"size": 4, "ratio": [2, 1]}}})",
          "n"),
      "augment.random_resized_crop.ratio must be [min, max] with 0 < min <= "
      "max, not [2,1]");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"eval_transform": {"resize": 0}})", "n"),
      "eval_transform.resize must be a positive integer or [h, w]");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"eval_transform": {"crop": 3}})", "n"),
      "unknown key 'eval_transform.crop'");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"val_split": 1})", "n"),
                        "val_split must be in [0, 1), not 1");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"keep_best": 1})", "n"),
                        "keep_best must be true or false");
}

TEST(RecipeTest, ParsesTheInitialWeightsAndTheirErrors) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"init": {"weights": "backbone.safetensors", "skip": ["fc.*", "head"]}})",
      "n");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->initWeights, "backbone.safetensors");
  EXPECT_EQ(r->initSkip, (std::vector<std::string>{"fc.*", "head"}));
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"skip": ["fc.*"]}})", "n"),
      "n: training recipe: init.weights must be the path of a weights file");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"weights": "w", "skip": "fc.*"}})", "n"),
      "init.skip must be a list of tensor names or globs");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"weights": "w", "from": 1}})", "n"),
      "unknown key 'init.from'");
}

TEST(RecipeTest, ParsesEveryKey) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"batch_size": 64, "epochs": 3, "loss": "cross_entropy",
          "optimizer": {"sgd": {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
                                "nesterov": true}},
          "lr_schedule": {"step": {"step_size": 2}},
          "normalize": {"mean": [0.5, 0.25], "std": [0.5, 2]},
          "augment": {"random_crop": {"size": [28, 30], "padding": 4},
                      "horizontal_flip": true}})",
      "net.so");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->batchSize, 64);
  EXPECT_EQ(r->epochs, 3);
  EXPECT_EQ(r->sgd.lr, 0.01);
  EXPECT_EQ(r->sgd.momentum, 0.9);
  EXPECT_EQ(r->sgd.weightDecay, 5e-4);
  EXPECT_TRUE(r->sgd.nesterov);
  EXPECT_EQ(r->schedule.kind, LrScheduleKind::Step);
  EXPECT_EQ(r->schedule.stepSize, 2);
  EXPECT_EQ(r->schedule.gamma, 0.1); // StepLR's default
  ASSERT_TRUE(r->normalize.has_value());
  EXPECT_EQ(r->normalize->mean, (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(r->normalize->std, (std::vector<float>{0.5f, 2.0f}));
  ASSERT_TRUE(r->augment.randomCrop.has_value());
  EXPECT_EQ(r->augment.randomCrop->height, 28);
  EXPECT_EQ(r->augment.randomCrop->width, 30);
  EXPECT_EQ(r->augment.randomCrop->padding, 4);
  EXPECT_EQ(r->augment.horizontalFlip, 0.5);

  Expected<TrainingRecipe> cosine = parseTrainingRecipe(
      R"({"lr_schedule": {"cosine": {"t_max": 10}}, "augment": {"random_crop": {"size": 32}}})",
      "net.so");
  ASSERT_TRUE(cosine.ok()) << cosine.message();
  EXPECT_EQ(cosine->schedule.kind, LrScheduleKind::Cosine);
  EXPECT_EQ(cosine->schedule.tMax, 10);
  EXPECT_EQ(cosine->schedule.etaMin, 0.0);
  EXPECT_EQ(cosine->augment.randomCrop->height, 32);
  EXPECT_EQ(cosine->augment.randomCrop->padding, 0);
}

TEST(RecipeTest, ErrorsNameTheLibraryAndTheKey) {
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe("{", "net.so"),
                        "net.so: the training recipe is not valid JSON");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe("[1]", "net.so"),
                        "must be a JSON object");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"batch_size": 0})", "net.so"),
      "net.so: training recipe: batch_size must be an integer of at least 1");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"adam": {}}})", "net.so"),
      "'adam' is not supported; use sgd");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"lr": "x"}}})", "n"),
      "optimizer.sgd.lr must be a finite number");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"lrate": 1}}})", "n"),
      "unknown key 'optimizer.sgd.lrate'");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"nesterov": true}}})", "n"),
      "Nesterov momentum needs a momentum above 0");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"lr_schedule": {"step": {}}})", "n"),
      "lr_schedule.step.step_size is required");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"lr_schedule": {"exp": {}}})", "n"),
      "'exp' is not supported");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"normalize": {"mean": [0.5]}})", "n"),
      "normalize.std is required");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"normalize": {"mean": [0], "std": [0]}})", "n"),
      "normalize.std must hold positive numbers");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"epoch": 3})", "n"),
                        "unknown key 'epoch'");
}

TEST(RecipeTest, ScheduleRoundTripsThroughJson) {
  LrScheduleSpec step{LrScheduleKind::Step, 3, 0.25, 1, 0};
  LrScheduleSpec cosine{LrScheduleKind::Cosine, 1, 0.1, 7, 1e-5};
  for (const LrScheduleSpec &s : {LrScheduleSpec{}, step, cosine}) {
    Expected<LrScheduleSpec> back = scheduleFromJson(scheduleToJson(s), "ckpt");
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(back->kind, s.kind);
    EXPECT_EQ(describeSchedule(*back), describeSchedule(s));
  }
  EXPECT_EQ(describeSchedule(step), "StepLR(step_size=3, gamma=0.25)");
}

TEST(RecipeTest, TheFakeLibraryReportsItsRecipeAndTrainableFlags) {
  Expected<ModelLibrary> m = ModelLibrary::load(CNNC_FAKE_MODEL);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->trainable(), (std::vector<bool>{true, true}));
  Expected<TrainingRecipe> r = trainingRecipe(*m);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->batchSize, 4);
  EXPECT_EQ(r->sgd.momentum, 0.9);
  Expected<ModelLibrary> frozen = ModelLibrary::load(CNNC_FAKE_MODEL_FROZEN);
  ASSERT_TRUE(frozen.ok()) << frozen.message();
  EXPECT_EQ(frozen->trainable(), (std::vector<bool>{true, false}));
  EXPECT_EQ(*m->numClasses(), 3);
}

} // namespace
} // namespace cnnc::rt
