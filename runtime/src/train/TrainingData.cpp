#include "cnnc/train/TrainingData.h"

#include "cnnc/ModelLibrary.h"

#include <memory>

namespace cnnc::rt {

Expected<data::TransformList> recipeTransforms(const TrainingRecipe &recipe, bool augment) {
  data::TransformList list;
  if (augment && recipe.augment.randomCrop) {
    const RandomCropSpec &c = *recipe.augment.randomCrop;
    auto crop = data::RandomCrop::create(c.height, c.width, c.padding);
    if (!crop)
      return crop.error();
    list.push_back(*crop);
  }
  if (augment && recipe.augment.horizontalFlip > 0) {
    auto flip = data::RandomHorizontalFlip::create(recipe.augment.horizontalFlip);
    if (!flip)
      return flip.error();
    list.push_back(*flip);
  }
  if (recipe.normalize) {
    auto norm = data::Normalize::create(recipe.normalize->mean, recipe.normalize->std);
    if (!norm)
      return norm.error();
    list.push_back(*norm);
  }
  return list;
}

Expected<data::DataLoader> loaderForNetwork(const ModelLibrary &model,
                                            const data::DataSpec &spec, data::Split split,
                                            const data::LoaderOptions &options,
                                            const data::TransformList &transforms) {
  Expected<int64_t> classes = model.numClasses();
  if (!classes)
    return classes.error();
  Expected<data::Dataset> loaded = data::loadDataset(spec, split);
  if (!loaded)
    return loaded.error();
  auto dataset = std::make_shared<const data::Dataset>(std::move(*loaded));
  if (Status s = data::checkLabels(*dataset, *classes, dataset->labelsSource); !s)
    return s.error();
  Expected<data::DataLoader> loader = data::DataLoader::create(dataset, options, transforms);
  if (!loader)
    return loader.error();
  if (Status s = data::checkImageShape(loader->sampleShape(), model.inputShape(),
                                       dataset->imagesSource);
      !s)
    return s.error();
  return loader;
}

std::string describeData(const data::DataLoader &loader, const data::DataSpec &spec,
                         data::Split split) {
  std::string text = spec.text + " (";
  if (spec.kind != data::DataKind::Npy)
    text += std::string(data::splitName(split)) + " split, ";
  return text + std::to_string(loader.numSamples()) + " images)";
}

} // namespace cnnc::rt
