// The training recipe's checks against the network and its attribute
// (internal to the importer).
#ifndef CNNC_IMPORTER_RECIPEATTR_H
#define CNNC_IMPORTER_RECIPEATTR_H

#include "cnnc/importer/NetworkSpec.h"

#include "mlir/IR/Builders.h"

#include <functional>
#include <string>

namespace cnnc {

/// The run-time part of `spec.train` in the recipe schema's normalised form
/// (every default written, sizes resolved against the input; `freeze` and
/// `frozen_batchnorm`, which the compiler applies, left out) as a
/// dictionary. The library returns it as JSON (cnnc_training_recipe).
mlir::DictionaryAttr recipeAttribute(const NetworkSpec &spec,
                                     mlir::Builder &builder);

using RecipeErrorFn =
    std::function<void(SourcePos pos, const std::string &message)>;

/// Reports transforms that cannot produce the network's input, at their
/// positions: a crop or resize of a non-image input, a size other than the
/// input's (the schema's resolveForInput, which the runtime applies too).
void checkRecipeAgainstInput(const NetworkSpec &spec,
                             const RecipeErrorFn &error);

} // namespace cnnc

#endif // CNNC_IMPORTER_RECIPEATTR_H
