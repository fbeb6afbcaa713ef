// Data for training and evaluating a network: the recipe's transforms and
// loaders checked against the network before any step runs.
#ifndef CNNC_TRAIN_TRAININGDATA_H
#define CNNC_TRAIN_TRAININGDATA_H

#include "cnnc/Error.h"
#include "cnnc/data/DataLoader.h"
#include "cnnc/data/DataSpec.h"
#include "cnnc/train/Recipe.h"

#include <string>

namespace cnnc::rt {

class ModelLibrary;

// The recipe's transforms in torchvision's order: with `augment`,
// RandomCrop and RandomHorizontalFlip, then Normalize (so padding is black).
Expected<data::TransformList> recipeTransforms(const TrainingRecipe &recipe, bool augment);

// A loader over `split` of `spec` whose images (after the transforms) have
// the network's input shape and whose labels are below its number of outputs;
// errors name the images or labels file.
Expected<data::DataLoader> loaderForNetwork(const ModelLibrary &model,
                                            const data::DataSpec &spec, data::Split split,
                                            const data::LoaderOptions &options,
                                            const data::TransformList &transforms);

// "npy:x.npy,y.npy (train split, 60000 images)" for logs.
std::string describeData(const data::DataLoader &loader, const data::DataSpec &spec,
                         data::Split split);

} // namespace cnnc::rt

#endif // CNNC_TRAIN_TRAININGDATA_H
