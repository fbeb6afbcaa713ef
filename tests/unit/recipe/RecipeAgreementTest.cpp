// The importer and the runtime read a recipe alike: agreement.yaml, as the
// importer parses it, against the recipe that the runtime reads back from
// the library cnnc compiled from it at build time (cnnc_training_recipe).
#include "cnnc/ModelLibrary.h"
#include "cnnc/importer/NetworkSpec.h"
#include "cnnc/recipe/RecipeJson.h"
#include "cnnc/train/Recipe.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace cnnc {
namespace {

/// The recipe of a YAML file as the importer puts it into a library:
/// parsed, then resolved against the network's input.
recipe::TrainingRecipe importedRecipe(const std::string &yaml) {
  NetworkSpec spec;
  std::string errors;
  bool parsed = parseNetworkSpec(
      yaml, "net", spec, [&](SourcePos pos, const std::string &message) {
        errors += std::to_string(pos.line) + ": " + message + "\n";
      });
  EXPECT_TRUE(parsed) << errors;
  std::vector<recipe::Problem> problems;
  recipe::resolveForInput(spec.train, spec.input, problems);
  EXPECT_TRUE(problems.empty()) << problems.front().withPath();
  return spec.train;
}

TEST(RecipeAgreement, TheRuntimeReadsTheImportersRecipeFromTheLibrary) {
  std::ifstream file(CNNC_AGREEMENT_YAML);
  std::stringstream yaml;
  yaml << file.rdbuf();
  recipe::TrainingRecipe imported = importedRecipe(yaml.str());

  rt::Expected<rt::ModelLibrary> model =
      rt::ModelLibrary::load(CNNC_AGREEMENT_LIBRARY);
  ASSERT_TRUE(model.ok()) << model.message();
  rt::Expected<rt::TrainingRecipe> read = rt::trainingRecipe(*model);
  ASSERT_TRUE(read.ok()) << read.message();

  // Every run-time value, compared through the schema's writer...
  EXPECT_EQ(recipe::toJson(*read).dump(), recipe::toJson(imported).dump());
  // ... and by hand, the defaults the two sides once disagreed on first.
  EXPECT_EQ(read->batchSize, 64);
  EXPECT_EQ(read->sgd.lr, 0.01);
  EXPECT_EQ(read->sgd.weightDecay, 0.0);
  EXPECT_EQ(read->sgd.momentum, 0.9);
  EXPECT_TRUE(read->sgd.nesterov);
  EXPECT_EQ(read->epochs, 3);
  EXPECT_EQ(read->schedule.kind, recipe::LrScheduleKind::Step);
  EXPECT_EQ(read->schedule.stepSize, 2);
  EXPECT_EQ(read->schedule.gamma, 0.5);
  ASSERT_TRUE(read->normalize);
  EXPECT_EQ(read->normalize->mean, (std::vector<double>{0.5}));
  EXPECT_EQ(read->normalize->std, (std::vector<double>{0.25}));
  ASSERT_TRUE(read->augment.randomCrop);
  EXPECT_EQ(read->augment.randomCrop->height, 8);
  EXPECT_EQ(read->augment.randomCrop->width, 6);
  EXPECT_EQ(read->augment.randomCrop->padding, 1);
  ASSERT_TRUE(read->augment.randomResizedCrop);
  EXPECT_EQ(read->augment.randomResizedCrop->height, 8);
  EXPECT_EQ(read->augment.randomResizedCrop->width, 6);
  EXPECT_EQ(read->augment.randomResizedCrop->scaleMin, 0.08);
  EXPECT_EQ(read->augment.randomResizedCrop->ratioMax, 4.0 / 3.0);
  EXPECT_EQ(read->augment.horizontalFlip, 0.3);
  ASSERT_TRUE(read->evalTransform);
  EXPECT_EQ(read->evalTransform->resizeShorter, 10);
  EXPECT_EQ(read->evalTransform->cropHeight, 8);
  EXPECT_EQ(read->evalTransform->cropWidth, 6);
  EXPECT_EQ(read->valSplit, 0.0);
  EXPECT_TRUE(read->keepBest);
  EXPECT_EQ(read->initWeights, "runs/start \"v1\".safetensors");
  EXPECT_EQ(read->initSkip, (std::vector<std::string>{"fc.*"}));

  // The compile-time keys are compiled in, not carried: conv.bias is frozen.
  EXPECT_EQ(model->trainable(), (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(imported.freeze, (std::vector<std::string>{"conv.bias"}));
  EXPECT_TRUE(read->freeze.empty());
}

TEST(RecipeAgreement, ALibraryRecipeWithoutKeysHasTheYamlDefaults) {
  // What a YAML without `train:` gets, a hand-written library JSON `{}` gets.
  recipe::TrainingRecipe imported = importedRecipe(
      "input: [3, 8, 6]\nlayers: [flatten, {linear: {out_features: 2}}]\n");
  rt::Expected<rt::TrainingRecipe> read =
      rt::parseTrainingRecipe("{}", "net.so");
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(recipe::toJson(*read).dump(), recipe::toJson(imported).dump());
}

} // namespace
} // namespace cnnc
