#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/NonFinite.h"
#include "cnnc/ParameterCheck.h"
#include "cnnc/Safetensors.h"
#include "cnnc/train/Evaluate.h"
#include "cnnc/train/TrainingData.h"

#include <cstdio>
#include <limits>
#include <ostream>

namespace cnnc::rt {

static const char kEvalUsage[] =
    "usage: cnnc eval NET.so --weights WEIGHTS.safetensors --data SPEC\n"
    "                 [--split train|test] [--batch-size B] [--threads T]\n"
    "\n"
    "Evaluates a classifier: mean cross-entropy loss, accuracy and the "
    "confusion\n"
    "matrix (rows: true class, columns: predicted class), with the network's\n"
    "eval transforms (resize, center crop) and normalization, no "
    "augmentation.\n"
    "\n"
    "  --weights FILE      the parameters (safetensors)\n"
    "  --data SPEC         fashion-mnist:DIR, mnist:DIR, cifar10:DIR,\n"
    "                      npy:IMAGES.npy,LABELS.npy[,classes=K] or "
    "folder:DIR\n"
    "  --split S           train or test (default test; npy and folder data "
    "have no\n"
    "                      splits)\n"
    "  --batch-size B      samples per forward call (default: the recipe's)\n"
    "  --threads T         threads to use (0 = one per core)\n";

int runEvalCommand(const std::vector<std::string> &args, std::ostream &out,
                   std::ostream &err) {
  const std::string command = "cnnc eval";
  Expected<ParsedArgs> parsed =
      parseArgs(args, {{"--weights", "--weights"},
                       {"--data", "--data"},
                       {"--split", "--split"},
                       {"--batch-size", "--batch-size"},
                       {"--threads", "--threads"}});
  auto usageError = [&](const std::string &message) {
    reportError(err, command, Error(message));
    err << kEvalUsage;
    return 1;
  };
  if (!parsed)
    return usageError(parsed.message());
  if (parsed->help) {
    out << kEvalUsage;
    return 0;
  }
  if (parsed->positional.size() != 1)
    return usageError("expected one model library (NET.so)");
  for (const char *required : {"--weights", "--data"})
    if (!parsed->options.count(required))
      return usageError(std::string("missing ") + required);
  auto &options = parsed->options;

  data::Split split = data::Split::Test;
  if (auto s = options.find("--split"); s != options.end()) {
    Expected<data::Split> value = data::parseSplit(s->second);
    if (!value)
      return reportError(err, command, value.error());
    split = *value;
  }
  Expected<data::DataSpec> spec = data::parseDataSpec(options["--data"]);
  if (!spec)
    return reportError(err, command, spec.error());

  Expected<ModelLibrary> model = ModelLibrary::load(parsed->positional[0]);
  if (!model)
    return reportError(err, command, model.error());
  Expected<TrainingRecipe> recipe = trainingRecipe(*model);
  if (!recipe)
    return reportError(err, command, recipe.error());
  int64_t batchSize = recipe->batchSize;
  if (auto b = options.find("--batch-size"); b != options.end()) {
    Expected<int64_t> value =
        parseInteger("--batch-size", b->second, 1, 1000000000);
    if (!value)
      return reportError(err, command, value.error());
    batchSize = *value;
  }
  if (auto t = options.find("--threads"); t != options.end()) {
    Expected<int64_t> value = parseInteger("--threads", t->second, 0,
                                           std::numeric_limits<int32_t>::max());
    if (!value)
      return reportError(err, command, value.error());
    if (Status s = model->setNumThreads(static_cast<int32_t>(*value)); !s)
      return reportError(err, command, s.error());
  }

  const std::string weightsPath = options["--weights"];
  Expected<SafetensorsFile> weights = readSafetensors(weightsPath);
  if (!weights)
    return reportError(err, command, weights.error());
  Expected<std::vector<const Tensor *>> parameters =
      matchParameters(*model, weights->tensors, weightsPath);
  if (!parameters)
    return reportError(err, command, parameters.error());
  for (const std::string &line :
       nonFiniteParameters(model->parameters(), *parameters))
    err << command << ": warning: " << weightsPath << ": " << line << "\n";

  Expected<data::TransformList> transforms = recipeTransforms(*recipe, false);
  if (!transforms)
    return reportError(err, command,
                       Error(model->path() + ": " + transforms.message()));
  data::LoaderOptions loaderOptions;
  loaderOptions.batchSize = batchSize;
  Expected<data::DataLoader> loader =
      loaderForNetwork(*model, *spec, split, loaderOptions, *transforms);
  if (!loader)
    return reportError(err, command, loader.error());

  Expected<EvalResult> result = evaluate(*model, *parameters, *loader);
  if (!result)
    return reportError(err, command, result.error());

  char line[160];
  std::snprintf(line, sizeof line, "loss %.6f, accuracy %.2f%% (%lld/%lld)\n",
                result->loss(), 100.0 * result->accuracy(),
                static_cast<long long>(result->correct),
                static_cast<long long>(result->samples));
  out << "evaluating '" << model->name() << "' with " << weightsPath << " on "
      << describeData(*loader, *spec, split) << "\n"
      << line
      << "confusion matrix (rows: true class, columns: predicted class):\n"
      << formatConfusionMatrix(*result, loader->dataset().classNames);
  return 0;
}

} // namespace cnnc::rt
