#include "cnnc/train/TrainingData.h"

#include "cnnc/ModelLibrary.h"
#include "cnnc/data/ResizeTransforms.h"

#include <memory>

namespace cnnc::rt {

// Appends `created` (a transform or its error) to `list`.
template <typename T>
Status append(data::TransformList &list,
              Expected<std::shared_ptr<const T>> created) {
  if (!created)
    return created.error();
  list.push_back(*created);
  return Status::success();
}

static Status appendEvalTransform(data::TransformList &list,
                                  const EvalTransformSpec &e) {
  if (e.resizeShorter > 0)
    if (Status s = append(list, data::Resize::shorterSide(e.resizeShorter)); !s)
      return s;
  if (e.resizeHeight > 0)
    if (Status s =
            append(list, data::Resize::exactly(e.resizeHeight, e.resizeWidth));
        !s)
      return s;
  if (e.cropHeight > 0)
    if (Status s =
            append(list, data::CenterCrop::create(e.cropHeight, e.cropWidth));
        !s)
      return s;
  return Status::success();
}

Expected<data::TransformList> recipeTransforms(const TrainingRecipe &recipe,
                                               bool augment) {
  data::TransformList list;
  const AugmentSpec &a = recipe.augment;
  if (augment && a.randomResizedCrop) {
    const RandomResizedCropSpec &c = *a.randomResizedCrop;
    if (Status s =
            append(list, data::RandomResizedCrop::create(
                             c.height, c.width,
                             {c.scaleMin, c.scaleMax, c.ratioMin, c.ratioMax}));
        !s)
      return s.error();
  } else if (recipe.evalTransform) {
    if (Status s = appendEvalTransform(list, *recipe.evalTransform); !s)
      return s.error();
  }
  if (augment && a.randomCrop)
    if (Status s = append(list, data::RandomCrop::create(
                                    a.randomCrop->height, a.randomCrop->width,
                                    a.randomCrop->padding));
        !s)
      return s.error();
  if (augment && a.horizontalFlip > 0)
    if (Status s =
            append(list, data::RandomHorizontalFlip::create(a.horizontalFlip));
        !s)
      return s.error();
  if (recipe.normalize) {
    // Images are float32: so are the values that normalise them.
    const NormalizeSpec &n = *recipe.normalize;
    if (Status s =
            append(list, data::Normalize::create({n.mean.begin(), n.mean.end()},
                                                 {n.std.begin(), n.std.end()}));
        !s)
      return s.error();
  }
  return list;
}

Expected<std::shared_ptr<const data::Dataset>>
datasetForNetwork(const ModelLibrary &model, const data::DataSpec &spec,
                  data::Split split) {
  Expected<int64_t> classes = model.numClasses();
  if (!classes)
    return classes.error();
  Expected<data::Dataset> loaded = data::loadDataset(spec, split);
  if (!loaded)
    return loaded.error();
  if (loaded->files && loaded->numClasses > *classes) {
    std::string names;
    for (const std::string &n : loaded->classNames)
      names += (names.empty() ? "" : ", ") + n;
    return Error(loaded->imagesSource + ": " +
                 std::to_string(loaded->numClasses) + " class folders (" +
                 names + ") for a network with " + std::to_string(*classes) +
                 " outputs");
  }
  if (Status s = data::checkLabels(*loaded, *classes, loaded->labelsSource); !s)
    return s.error();
  return std::make_shared<const data::Dataset>(std::move(*loaded));
}

Expected<data::DataLoader> loaderForNetwork(
    const ModelLibrary &model, std::shared_ptr<const data::Dataset> dataset,
    const data::LoaderOptions &options, const data::TransformList &transforms) {
  Expected<data::DataLoader> loader =
      data::DataLoader::create(dataset, options, transforms);
  if (!loader)
    return loader.error();
  // Image files: name one that reaches the network at the wrong size.
  std::string source = dataset->imagesSource;
  if (dataset->files)
    source =
        dataset->files->paths[static_cast<size_t>(loader->order().front())];
  if (Status s = data::checkImageShape(loader->sampleShape(),
                                       model.inputShape(), source);
      !s) {
    if (!dataset->files)
      return s.error();
    return Error(s.message() +
                 "; images of a folder reach the network at its input size "
                 "only through the recipe's transforms (train: augment: "
                 "random_resized_crop, eval_transform: resize, center_crop)");
  }
  return loader;
}

Expected<data::DataLoader>
loaderForNetwork(const ModelLibrary &model, const data::DataSpec &spec,
                 data::Split split, const data::LoaderOptions &options,
                 const data::TransformList &transforms) {
  Expected<std::shared_ptr<const data::Dataset>> dataset =
      datasetForNetwork(model, spec, split);
  if (!dataset)
    return dataset.error();
  return loaderForNetwork(model, *dataset, options, transforms);
}

std::string describeData(const data::DataLoader &loader,
                         const data::DataSpec &spec, data::Split split) {
  std::string text = spec.text + " (";
  if (data::hasSplits(spec.kind))
    text += std::string(data::splitName(split)) + " split, ";
  return text + std::to_string(loader.numSamples()) + " images)";
}

} // namespace cnnc::rt
