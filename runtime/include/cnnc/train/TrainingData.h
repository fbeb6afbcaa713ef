// Data for training and evaluating a network: the recipe's transforms and
// loaders checked against the network before any step runs.
#ifndef CNNC_TRAIN_TRAININGDATA_H
#define CNNC_TRAIN_TRAININGDATA_H

#include "cnnc/Error.h"
#include "cnnc/data/DataLoader.h"
#include "cnnc/data/DataSpec.h"
#include "cnnc/train/Recipe.h"

#include <memory>
#include <string>

namespace cnnc::rt {

class ModelLibrary;

// The recipe's transforms in torchvision's order. With `augment`:
// RandomResizedCrop (else the eval transform), RandomCrop,
// RandomHorizontalFlip, then Normalize (so padding is black). Without:
// the eval transform (Resize, CenterCrop), then Normalize.
Expected<data::TransformList> recipeTransforms(const TrainingRecipe &recipe,
                                               bool augment);

// `split` of `spec`, with labels below the network's number of outputs.
Expected<std::shared_ptr<const data::Dataset>>
datasetForNetwork(const ModelLibrary &model, const data::DataSpec &spec,
                  data::Split split);

// A loader over `dataset` (or options.subset of it) whose images, after the
// transforms, have the network's input shape; errors name the images (for a
// folder, one of its files, with the recipe keys that resize images).
Expected<data::DataLoader> loaderForNetwork(
    const ModelLibrary &model, std::shared_ptr<const data::Dataset> dataset,
    const data::LoaderOptions &options, const data::TransformList &transforms);

// Both of the above: a loader over `split` of `spec`.
Expected<data::DataLoader>
loaderForNetwork(const ModelLibrary &model, const data::DataSpec &spec,
                 data::Split split, const data::LoaderOptions &options,
                 const data::TransformList &transforms);

// "npy:x.npy,y.npy (60000 images)", "cifar10:d (train split, 50000 images)"
// for logs.
std::string describeData(const data::DataLoader &loader,
                         const data::DataSpec &spec, data::Split split);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_TRAININGDATA_H
