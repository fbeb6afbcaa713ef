// The runtime's reading of a library's recipe JSON: the recipe schema's
// defaults and rules (tests/unit/recipe tests the schema itself), errors that
// name the library and the key path, sizes resolved against the library's
// input, SGD checks and the schedule's JSON for checkpoints.
#include "TestUtil.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/train/Recipe.h"

namespace cnnc::rt {
namespace {

TEST(RecipeTest, EmptyRecipeHasTheYamlDefaults) {
  // The defaults of a YAML `train:` section (the importer's), not PyTorch's
  // DataLoader and SGD defaults (batch 1, lr 0.001).
  for (const char *text : {"{}", "null"}) {
    Expected<TrainingRecipe> r = parseTrainingRecipe(text, "net.so");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->batchSize, 64);
    EXPECT_EQ(r->epochs, 1);
    EXPECT_EQ(r->sgd.lr, 0.01);
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

TEST(RecipeTest, SizesLeftOutAreTheLibraryInputs) {
  // As the importer does: random crops and a center_crop without a value
  // take the input's height and width; a size written out must be it.
  const Shape sample{3, 8, 6};
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"augment": {"random_crop": {"padding": 1}, "random_resized_crop": null},
          "eval_transform": {"resize": 10, "center_crop": null}})",
      "net.so", &sample);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->augment.randomCrop->height, 8);
  EXPECT_EQ(r->augment.randomCrop->width, 6);
  EXPECT_EQ(r->augment.randomResizedCrop->height, 8);
  EXPECT_EQ(r->augment.randomResizedCrop->width, 6);
  EXPECT_EQ(r->evalTransform->cropHeight, 8);
  EXPECT_EQ(r->evalTransform->cropWidth, 6);

  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"size": 7}}})", "net.so",
          &sample),
      "net.so: training recipe: augment.random_resized_crop.size: "
      "random_resized_crop size 7x7 is not the network's input size 8x6");
  const Shape features{20};
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"augment": {"random_crop": {}}})", "net.so",
                          &features),
      "net.so: training recipe: augment.random_crop: random_crop needs an "
      "image input [channels, height, width], but the input is [20]");
}

TEST(RecipeTest, TransferLearningDataErrors) {
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"size": 4, "scale": [0.5, 1.5]}}})",
          "n"),
      "n: training recipe: augment.random_resized_crop.scale is a fraction "
      "of the image's area: at most 1, got 1.5");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(
          R"({"augment": {"random_resized_crop": {"size": 4, "ratio": [2, 1]}}})",
          "n"),
      "augment.random_resized_crop.ratio must be [min, max] with 0 < min <= "
      "max, got [2, 1]");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"eval_transform": {"resize": 0}})", "n"),
      "eval_transform.resize must be at least 1, got 0");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"eval_transform": {"crop": 3}})", "n"),
      "eval_transform.crop: unknown key 'crop' in eval_transform");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"val_split": 1})", "n"),
                        "val_split is the fraction of the training data held "
                        "out for validation: below 1, got 1");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"keep_best": 1})", "n"),
                        "keep_best must be true or false, got 1");
}

TEST(RecipeTest, ParsesTheInitialWeightsAndTheirErrors) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"init": {"weights": "backbone.safetensors", "skip": ["fc.*", "head"]}})",
      "n");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->initWeights, "backbone.safetensors");
  EXPECT_EQ(r->initSkip, (std::vector<std::string>{"fc.*", "head"}));
  // One glob may be written without a list, as in YAML.
  r = parseTrainingRecipe(R"({"init": {"weights": "w", "skip": "fc.*"}})", "n");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->initSkip, (std::vector<std::string>{"fc.*"}));
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"skip": ["fc.*"]}})", "n"),
      "n: training recipe: init: init needs 'weights', the file to start "
      "from");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"weights": "w", "skip": [1]}})", "n"),
      "init.skip[0] patterns are tensor names or globs such as 'fc.*', got 1");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"init": {"weights": "w", "from": 1}})", "n"),
      "init.from: unknown key 'from' in init");
}

TEST(RecipeTest, ParsesEveryKey) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"batch_size": 64, "epochs": 3,
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
  EXPECT_EQ(r->normalize->mean, (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(r->normalize->std, (std::vector<double>{0.5, 2.0}));
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
                        "net.so: training recipe: 'train' must be a mapping "
                        "of batch_size, epochs");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"batch_size": 0})", "net.so"),
                        "net.so: training recipe: batch_size must be at least "
                        "1, got 0");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"adam": {}}})", "net.so"),
      "optimizer.adam: unknown key 'adam' in optimizer (expected one of: "
      "sgd)");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"lr": "x"}}})", "n"),
      "optimizer.sgd.lr must be a number, got 'x'");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"momentun": 1}}})", "n"),
      "optimizer.sgd.momentun: unknown key 'momentun' in sgd arguments; did "
      "you mean 'momentum'?");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"optimizer": {"sgd": {"nesterov": true}}})", "n"),
      "optimizer.sgd.nesterov: Nesterov momentum needs a momentum above 0");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"lr_schedule": {"step": {}}})", "n"),
      "lr_schedule.step: step lr_schedule needs 'step_size'");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"lr_schedule": {"exp": {}}})", "n"),
      "unknown key 'exp' in lr_schedule");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"normalize": {"mean": [0.5]}})", "n"),
      "normalize: normalize needs both 'mean' and 'std'");
  EXPECT_ERROR_CONTAINS(
      parseTrainingRecipe(R"({"normalize": {"mean": [0], "std": [0]}})", "n"),
      "normalize.std[0] must be above 0, got 0");
  EXPECT_ERROR_CONTAINS(parseTrainingRecipe(R"({"epoch": 3})", "n"),
                        "epoch: unknown key 'epoch' in train; did you mean "
                        "'epochs'?");
}

TEST(RecipeTest, EveryProblemOnALineOfItsOwn) {
  Expected<TrainingRecipe> r = parseTrainingRecipe(
      R"({"batch_size": 0, "optimizer": {"sgd": {"lr": 0}}, "keep_best": "no"})",
      "net.so");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(),
            "net.so: training recipe: batch_size must be at least 1, got 0\n"
            "net.so: training recipe: optimizer.sgd.lr must be above 0, got 0\n"
            "net.so: training recipe: keep_best must be true or false, got "
            "'no'");
}

TEST(RecipeTest, ValidateSgdAppliesTheSchemaRules) {
  EXPECT_TRUE(validateSgd(SgdOptions{}).ok());
  EXPECT_ERROR_CONTAINS(validateSgd(SgdOptions{0, 0, 0, false}),
                        "SGD lr must be above 0, got 0");
  EXPECT_ERROR_CONTAINS(validateSgd(SgdOptions{0.1, -1, 0, false}),
                        "SGD momentum must be at least 0, got -1");
  EXPECT_ERROR_CONTAINS(validateSgd(SgdOptions{0.1, 0, 0, true}),
                        "SGD nesterov: Nesterov momentum needs a momentum "
                        "above 0");
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
  EXPECT_EQ(describeSchedule(cosine),
            "CosineAnnealingLR(T_max=7, eta_min=1e-05)");
  EXPECT_ERROR_CONTAINS(scheduleFromJson(R"({"step": {"step_size": 0}})", "c"),
                        "c: lr_schedule.step.step_size must be at least 1");
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
