// The recipe schema shared by the importer and the runtime: its defaults,
// every key and form, every problem at once with its path, sizes resolved
// against the input, and the normalised JSON that libraries store.
#include "cnnc/recipe/RecipeJson.h"

#include <gtest/gtest.h>

namespace cnnc::recipe {
namespace {

using json = nlohmann::json;

struct Parsed {
  TrainingRecipe recipe;
  std::vector<Problem> problems;
  /// Each problem as "path: text" (the importer's text, shown at the path).
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const Problem &p : problems)
      out.push_back(p.path + (p.atKey ? " (key)" : "") + ": " + p.text());
    return out;
  }
};

Parsed parse(const std::string &text) {
  Parsed p;
  p.recipe = parseRecipe(json::parse(text), p.problems);
  return p;
}

Parsed valid(const std::string &text) {
  Parsed p = parse(text);
  EXPECT_TRUE(p.problems.empty())
      << text << "\n  first problem: " << p.lines().front();
  return p;
}

TEST(RecipeSchema, Defaults) {
  // One set of defaults: a YAML file without `train:` and a library whose
  // JSON leaves a key out get the same.
  for (const char *text : {"{}", "null"}) {
    TrainingRecipe r = valid(text).recipe;
    EXPECT_EQ(r.batchSize, 64);
    EXPECT_EQ(r.epochs, 1);
    EXPECT_EQ(r.sgd.lr, 0.01);
    EXPECT_EQ(r.sgd.momentum, 0.0);
    EXPECT_EQ(r.sgd.weightDecay, 0.0);
    EXPECT_FALSE(r.sgd.nesterov);
    EXPECT_EQ(r.schedule.kind, LrScheduleKind::Constant);
    EXPECT_FALSE(r.normalize);
    EXPECT_FALSE(r.augment.randomCrop);
    EXPECT_FALSE(r.augment.randomResizedCrop);
    EXPECT_EQ(r.augment.horizontalFlip, 0.0);
    EXPECT_FALSE(r.evalTransform);
    EXPECT_EQ(r.valSplit, 0.0);
    EXPECT_TRUE(r.keepBest);
    EXPECT_TRUE(r.initWeights.empty());
    EXPECT_TRUE(r.initSkip.empty());
    EXPECT_TRUE(r.freeze.empty());
    EXPECT_EQ(r.frozenBatchNorm, FrozenBatchNorm::Eval);
  }
  // The defaults inside each key.
  TrainingRecipe r = valid(R"({"optimizer": {"sgd": {"momentum": 0.9}},
      "lr_schedule": {"step": {"step_size": 3}},
      "augment": {"random_crop": {}, "random_resized_crop": {}},
      "eval_transform": {"resize": 9},
      "init": {"weights": "w.safetensors"}})")
                         .recipe;
  EXPECT_EQ(r.sgd.lr, 0.01);
  EXPECT_EQ(r.schedule.gamma, 0.1);
  EXPECT_EQ(r.augment.randomCrop->padding, 0);
  EXPECT_EQ(r.augment.randomCrop->height, kInputSize);
  const RandomResizedCropSpec &c = *r.augment.randomResizedCrop;
  EXPECT_EQ(c.height, kInputSize);
  EXPECT_EQ(c.scaleMin, 0.08);
  EXPECT_EQ(c.scaleMax, 1.0);
  EXPECT_EQ(c.ratioMin, 3.0 / 4.0);
  EXPECT_EQ(c.ratioMax, 4.0 / 3.0);
  EXPECT_EQ(r.evalTransform->cropHeight, 0); // no center crop
  EXPECT_TRUE(r.initSkip.empty());
  EXPECT_EQ(valid(R"({"lr_schedule": {"cosine": {"t_max": 4}}})")
                .recipe.schedule.etaMin,
            0.0);
}

TEST(RecipeSchema, EveryKey) {
  TrainingRecipe r = valid(R"({"batch_size": 32, "epochs": 5,
        "optimizer": {"sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
                              "nesterov": true, "dampening": 0}},
        "lr_schedule": {"cosine": {"t_max": 5, "eta_min": 0.001}},
        "normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
        "augment": {"random_crop": {"size": [8, 6], "padding": 2},
                    "random_resized_crop": {"size": 8, "scale": [0.5, 1],
                                            "ratio": [0.5, 2]},
                    "horizontal_flip": 0.25},
        "eval_transform": {"resize": [10, 9], "center_crop": [8, 6]},
        "val_split": 0.2, "keep_best": false,
        "init": {"weights": "w.safetensors", "skip": ["fc.*", "head.bias"]},
        "freeze": ["conv*", "bn1.*"], "frozen_batchnorm": "batch_stats"})")
                         .recipe;
  EXPECT_EQ(r.batchSize, 32);
  EXPECT_EQ(r.epochs, 5);
  EXPECT_EQ(r.sgd.lr, 0.1);
  EXPECT_EQ(r.sgd.momentum, 0.9);
  EXPECT_EQ(r.sgd.weightDecay, 5e-4);
  EXPECT_TRUE(r.sgd.nesterov);
  EXPECT_EQ(r.schedule.kind, LrScheduleKind::Cosine);
  EXPECT_EQ(r.schedule.tMax, 5);
  EXPECT_EQ(r.schedule.etaMin, 0.001);
  EXPECT_EQ(r.normalize->mean, (std::vector<double>{0.5, 0.4, 0.3}));
  EXPECT_EQ(r.normalize->std, (std::vector<double>{0.2, 0.25, 0.3}));
  EXPECT_EQ(r.augment.randomCrop->height, 8);
  EXPECT_EQ(r.augment.randomCrop->width, 6);
  EXPECT_EQ(r.augment.randomCrop->padding, 2);
  EXPECT_EQ(r.augment.randomResizedCrop->height, 8);
  EXPECT_EQ(r.augment.randomResizedCrop->width, 8);
  EXPECT_EQ(r.augment.randomResizedCrop->scaleMin, 0.5);
  EXPECT_EQ(r.augment.randomResizedCrop->ratioMax, 2.0);
  EXPECT_EQ(r.augment.horizontalFlip, 0.25);
  EXPECT_EQ(r.evalTransform->resizeHeight, 10);
  EXPECT_EQ(r.evalTransform->resizeWidth, 9);
  EXPECT_EQ(r.evalTransform->resizeShorter, 0);
  EXPECT_EQ(r.evalTransform->cropHeight, 8);
  EXPECT_EQ(r.evalTransform->cropWidth, 6);
  EXPECT_EQ(r.valSplit, 0.2);
  EXPECT_FALSE(r.keepBest);
  EXPECT_EQ(r.initWeights, "w.safetensors");
  EXPECT_EQ(r.initSkip, (std::vector<std::string>{"fc.*", "head.bias"}));
  EXPECT_EQ(r.freeze, (std::vector<std::string>{"conv*", "bn1.*"}));
  EXPECT_EQ(r.frozenBatchNorm, FrozenBatchNorm::BatchStats);

  r = valid(R"({"lr_schedule": {"step": {"step_size": 2, "gamma": 0.5}},
                "eval_transform": {"center_crop": 8}})")
          .recipe;
  EXPECT_EQ(r.schedule.kind, LrScheduleKind::Step);
  EXPECT_EQ(r.schedule.stepSize, 2);
  EXPECT_EQ(r.schedule.gamma, 0.5);
  EXPECT_EQ(r.evalTransform->resizeShorter, 0);
  EXPECT_EQ(r.evalTransform->resizeHeight, 0);
  EXPECT_EQ(r.evalTransform->cropWidth, 8);
}

TEST(RecipeSchema, EitherFormWhereBothMakeSense) {
  // optimizer: a name or a mapping; `sgd` without a value takes the
  // defaults.
  EXPECT_EQ(valid(R"({"optimizer": "sgd"})").recipe.sgd.lr, 0.01);
  EXPECT_EQ(valid(R"({"optimizer": {"sgd": null}})").recipe.sgd.lr, 0.01);
  // horizontal_flip: true (p = 0.5), false or a probability.
  EXPECT_EQ(valid(R"({"augment": {"horizontal_flip": true}})")
                .recipe.augment.horizontalFlip,
            0.5);
  EXPECT_EQ(valid(R"({"augment": {"horizontal_flip": false}})")
                .recipe.augment.horizontalFlip,
            0.0);
  EXPECT_EQ(valid(R"({"augment": {"horizontal_flip": 1}})")
                .recipe.augment.horizontalFlip,
            1.0);
  // A number or a list per channel.
  TrainingRecipe r =
      valid(R"({"normalize": {"mean": 0.5, "std": [0.25]}})").recipe;
  EXPECT_EQ(r.normalize->mean, (std::vector<double>{0.5}));
  EXPECT_EQ(r.normalize->std, (std::vector<double>{0.25}));
  // A glob or a list of globs.
  r = valid(R"({"freeze": "conv*", "init": {"weights": "w", "skip": "fc.*"}})")
          .recipe;
  EXPECT_EQ(r.freeze, (std::vector<std::string>{"conv*"}));
  EXPECT_EQ(r.initSkip, (std::vector<std::string>{"fc.*"}));
  // An int or [h, w] for sizes; crops without a value take every default;
  // a center_crop without a value is the input's size.
  r = valid(R"({"augment": {"random_crop": null, "random_resized_crop": null},
                "eval_transform": {"center_crop": null}})")
          .recipe;
  EXPECT_EQ(r.augment.randomCrop->height, kInputSize);
  EXPECT_EQ(r.augment.randomResizedCrop->height, kInputSize);
  EXPECT_EQ(r.evalTransform->cropHeight, kInputSize);
  // {} is a constant rate (checkpoints write it).
  EXPECT_EQ(valid(R"({"lr_schedule": {}})").recipe.schedule.kind,
            LrScheduleKind::Constant);
}

TEST(RecipeSchema, EveryProblemAtOnceWithItsPath) {
  Parsed p = parse(R"({
      "batch_size": 0, "epochs": 2.5, "epoch": 3,
      "optimizer": {"sgd": {"lr": 0, "momentum": -1, "nesterov": "yes",
                            "dampening": 0.1}},
      "lr_schedule": {"step": {"gamma": -1}},
      "normalize": {"mean": [0.5, "x"], "std": [0]},
      "augment": {"random_crop": {"padding": -1, "size": [1, 2, 3]},
                  "random_resized_crop": {"scale": [0.5, 2], "ratio": 3},
                  "horizontal_flip": 2},
      "eval_transform": {"resize": [0, 4], "center_crop": "x"},
      "val_split": 1, "keep_best": "maybe",
      "init": {"skip": [""]},
      "freeze": [1], "frozen_batchnorm": "train"})");
  EXPECT_EQ(
      p.lines(),
      (std::vector<std::string>{
          "epoch (key): unknown key 'epoch' in train; did you mean 'epochs'?",
          "batch_size: 'batch_size' must be at least 1, got 0",
          "epochs: 'epochs' must be an integer, got 2.5",
          "optimizer.sgd.nesterov: 'nesterov' must be true or false, got "
          "'yes'",
          "optimizer.sgd.dampening: 'dampening' must be 0 (SGD without "
          "dampening), got 0.1",
          "optimizer.sgd.lr: 'lr' must be above 0, got 0",
          "optimizer.sgd.momentum: 'momentum' must be at least 0, got -1",
          "lr_schedule.step: step lr_schedule needs 'step_size'",
          "lr_schedule.step.gamma: 'gamma' must be at least 0, got -1",
          "normalize.mean[1]: 'mean' must be a number, got 'x'",
          "normalize.std[0]: 'std' must be above 0, got 0",
          "augment.random_crop.size: 'size' must be an integer or a list [h, "
          "w], got a list of 3 values",
          "augment.random_crop.padding: 'padding' must be non-negative, got "
          "-1",
          "augment.random_resized_crop.scale: 'scale' is a fraction of the "
          "image's area: at most 1, got 2",
          "augment.random_resized_crop.ratio: 'ratio' must be a list [min, "
          "max], got 3",
          "augment.horizontal_flip: 'horizontal_flip' must be true, false or "
          "a probability in [0, 1], got 2",
          "eval_transform.resize[0]: 'resize' must be at least 1, got 0",
          "eval_transform.center_crop: 'center_crop' must be an integer or a "
          "list [h, w], got 'x'",
          "val_split: 'val_split' is the fraction of the training data held "
          "out for validation: below 1, got 1",
          "keep_best: 'keep_best' must be true or false, got 'maybe'",
          "init: init needs 'weights', the file to start from",
          "init.skip[0]: 'skip' patterns are tensor names or globs such as "
          "'fc.*', got ''",
          "freeze[0]: 'freeze' patterns are parameter names or globs such as "
          "'conv*', got 1",
          "frozen_batchnorm: 'frozen_batchnorm' must be 'eval' (frozen batch "
          "norms use and keep their running statistics) or 'batch_stats' "
          "(they normalise with the batch and update them), got 'train'",
      }));
}

TEST(RecipeSchema, ShapesOfWholeSections) {
  auto lines = [](const char *text) { return parse(text).lines(); };
  EXPECT_EQ(lines("[1]"),
            (std::vector<std::string>{
                ": 'train' must be a mapping of batch_size, epochs, optimizer, "
                "lr_schedule, normalize, augment, eval_transform, val_split, "
                "keep_best, freeze, frozen_batchnorm and init, got a list"}));
  EXPECT_EQ(lines(R"({"optimizer": "adam"})"),
            (std::vector<std::string>{
                "optimizer: unknown optimizer 'adam' (supported: sgd)"}));
  EXPECT_EQ(lines(R"({"optimizer": {"adam": {}}})"),
            (std::vector<std::string>{"optimizer.adam (key): unknown key "
                                      "'adam' in optimizer (expected one of: "
                                      "sgd)"}));
  EXPECT_EQ(lines(R"({"optimizer": {"sgd": 1}})"),
            (std::vector<std::string>{
                "optimizer.sgd: 'sgd' must be a mapping such as {lr: 0.01, "
                "momentum: 0.9}, got 1"}));
  EXPECT_EQ(
      lines(R"({"lr_schedule": {"step": {"step_size": 1},
                                      "cosine": {"t_max": 1}}})"),
      (std::vector<std::string>{
          "lr_schedule: 'lr_schedule' must be one schedule such as "
          "{step: {step_size: 2, gamma: 0.1}} or {cosine: {t_max: 10}}"}));
  EXPECT_EQ(lines(R"({"lr_schedule": {"cosine": {"eta_min": 0}}})"),
            (std::vector<std::string>{"lr_schedule.cosine: cosine lr_schedule "
                                      "needs 't_max' (epochs)"}));
  EXPECT_EQ(lines(R"({"normalize": {"mean": [0.5, 0.5], "std": [0.5]}})"),
            (std::vector<std::string>{
                "normalize: normalize has 2 means but 1 stds"}));
  EXPECT_EQ(lines(R"({"eval_transform": {}})"),
            (std::vector<std::string>{
                "eval_transform: 'eval_transform' must be a mapping such as "
                "{resize: 256, center_crop: 224}"}));
  EXPECT_EQ(lines(R"({"augment": {"random_crop": 4}})"),
            (std::vector<std::string>{"augment.random_crop: 'random_crop' must "
                                      "be a mapping such as {padding: 4}"}));
  EXPECT_EQ(lines(R"({"init": {"weights": ["a"]}})"),
            (std::vector<std::string>{
                "init.weights: 'weights' is the path of a safetensors file, "
                "got a list"}));
  // Nulls stand for defaults only where a key without a value means
  // something (sgd, the random crops, center_crop).
  EXPECT_EQ(lines(R"({"batch_size": null})"),
            (std::vector<std::string>{
                "batch_size: 'batch_size' must be an integer, got nothing"}));
  EXPECT_EQ(lines(R"({"batch_size": 2000000})"),
            (std::vector<std::string>{"batch_size: 'batch_size' is too large: "
                                      "2000000 (at most 1048576)"}));
  // Quoted numbers are text; the message says why.
  EXPECT_EQ(lines(R"({"epochs": "3"})"),
            (std::vector<std::string>{
                "epochs: 'epochs' must be an integer, got '3' (quoted, so "
                "text: leave out the quotes)"}));
}

TEST(RecipeSchema, SgdRulesAreTorchs) {
  std::vector<Problem> problems;
  checkSgd(SgdOptions{}, "", problems);
  EXPECT_TRUE(problems.empty());
  checkSgd(SgdOptions{0.1, 0.0, 0.0, true}, "optimizer.sgd", problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].withPath(), "optimizer.sgd.nesterov: Nesterov "
                                    "momentum needs a momentum above 0");
  problems.clear();
  checkSgd(SgdOptions{-1, 0.5, -0.5, false}, "", problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].withPath(), "lr must be above 0, got -1");
  EXPECT_EQ(problems[1].withPath(),
            "weight_decay must be at least 0, got -0.5");
}

TEST(RecipeSchema, SizesResolvedAgainstTheInput) {
  Parsed p = valid(R"({"augment": {"random_crop": {"padding": 4},
                                   "random_resized_crop": {}},
                       "eval_transform": {"resize": 10, "center_crop": null}})");
  resolveForInput(p.recipe, {3, 8, 6}, p.problems);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.recipe.augment.randomCrop->height, 8);
  EXPECT_EQ(p.recipe.augment.randomCrop->width, 6);
  EXPECT_EQ(p.recipe.augment.randomResizedCrop->height, 8);
  EXPECT_EQ(p.recipe.augment.randomResizedCrop->width, 6);
  EXPECT_EQ(p.recipe.evalTransform->cropHeight, 8);
  EXPECT_EQ(p.recipe.evalTransform->cropWidth, 6);

  // Sizes written out must be the input's.
  p = valid(R"({"augment": {"random_crop": {"size": 8},
                            "random_resized_crop": {"size": [8, 6]}},
                "eval_transform": {"resize": [8, 7]}})");
  resolveForInput(p.recipe, {3, 8, 6}, p.problems);
  EXPECT_EQ(p.lines(),
            (std::vector<std::string>{
                "augment.random_crop.size: random_crop size 8x8 is not the "
                "network's input size 8x6: the transforms must produce the "
                "input (omit the size to use the input's)",
                "eval_transform.resize: resize 8x7 is not the network's input "
                "size 8x6: the transforms must produce the input"}));

  // Crops and resizes need an image input; an unknown input checks nothing.
  p = valid(R"({"augment": {"random_crop": {}, "random_resized_crop": {}},
                "eval_transform": {"resize": 3}})");
  resolveForInput(p.recipe, {20}, p.problems);
  EXPECT_EQ(p.lines(),
            (std::vector<std::string>{
                "augment.random_crop (key): random_crop needs an image input "
                "[channels, height, width], but the input is [20]",
                "augment.random_resized_crop (key): random_resized_crop needs "
                "an image input [channels, height, width], but the input is "
                "[20]",
                "eval_transform: eval_transform needs an image input "
                "[channels, height, width], but the input is [20]"}));
  p.problems.clear();
  resolveForInput(p.recipe, {}, p.problems);
  EXPECT_TRUE(p.problems.empty());
}

TEST(RecipeSchema, TheNormalisedJsonReadsBackTheSame) {
  Parsed p = valid(R"({"epochs": 3, "optimizer": "sgd",
      "lr_schedule": {"step": {"step_size": 2}},
      "normalize": {"mean": 0.5, "std": 0.25},
      "augment": {"random_resized_crop": null, "random_crop": {"padding": 1},
                  "horizontal_flip": true},
      "eval_transform": {"resize": 10, "center_crop": null},
      "init": {"weights": "w \"quoted\".safetensors"},
      "freeze": "fc.*", "frozen_batchnorm": "batch_stats"})");
  resolveForInput(p.recipe, {1, 8, 8}, p.problems);
  ASSERT_TRUE(p.problems.empty());
  json normalised = toJson(p.recipe);
  // Every default written; compile-time keys left out; sizes resolved.
  EXPECT_EQ(normalised, json::parse(R"({
      "batch_size": 64, "epochs": 3,
      "optimizer": {"sgd": {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.0,
                            "nesterov": false}},
      "lr_schedule": {"step": {"step_size": 2, "gamma": 0.1}},
      "normalize": {"mean": [0.5], "std": [0.25]},
      "augment": {"random_crop": {"size": [8, 8], "padding": 1},
                  "random_resized_crop": {"size": [8, 8], "scale": [0.08, 1.0],
                                          "ratio": [0.75, 1.3333333333333333]},
                  "horizontal_flip": 0.5},
      "eval_transform": {"resize": 10, "center_crop": [8, 8]},
      "val_split": 0.0, "keep_best": true,
      "init": {"weights": "w \"quoted\".safetensors", "skip": []}})"));
  // Read back, it is the same recipe, less the compile-time keys.
  std::vector<Problem> problems;
  TrainingRecipe back = parseRecipe(normalised, problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(toJson(back), normalised);
  EXPECT_TRUE(back.freeze.empty());
  // An unresolved size is left out, which reads back as the input's.
  p = valid(R"({"augment": {"random_crop": {}},
                "eval_transform": {"center_crop": null}})");
  json unresolved = toJson(p.recipe);
  EXPECT_FALSE(unresolved["augment"]["random_crop"].contains("size"));
  EXPECT_TRUE(unresolved["eval_transform"]["center_crop"].is_null());
  EXPECT_EQ(toJson(parseRecipe(unresolved, problems)), unresolved);
}

TEST(RecipeSchema, ProblemTexts) {
  Problem named{"init.skip[2]", "must be text", true};
  EXPECT_EQ(named.text(), "'skip' must be text");
  EXPECT_EQ(named.withPath(), "init.skip[2] must be text");
  Problem sentence{"normalize", "normalize needs both 'mean' and 'std'"};
  EXPECT_EQ(sentence.text(), "normalize needs both 'mean' and 'std'");
  EXPECT_EQ(sentence.withPath(),
            "normalize: normalize needs both 'mean' and 'std'");
  EXPECT_EQ(parentPath("init.skip[2]"), "init.skip");
  EXPECT_EQ(parentPath("init.skip"), "init");
  EXPECT_EQ(parentPath("init"), "");
  EXPECT_EQ(formatNumber(0.1), "0.1");
  EXPECT_EQ(formatNumber(1e-5), "1e-05");
  EXPECT_EQ(formatNumber(4.0 / 3.0), "1.3333333333333333");
}

} // namespace
} // namespace cnnc::recipe
