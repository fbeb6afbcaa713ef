// The training recipe's checks against the network and its attribute
// (internal to the importer).
#ifndef CNNC_IMPORTER_RECIPEATTR_H
#define CNNC_IMPORTER_RECIPEATTR_H

#include "cnnc/importer/NetworkSpec.h"

#include "mlir/IR/Builders.h"

#include <functional>
#include <string>

namespace cnnc {

/// The run-time part of `spec.train` (everything but `freeze` and
/// `frozen_batchnorm`, which the compiler applies) as a dictionary.
mlir::DictionaryAttr recipeAttribute(const NetworkSpec &spec,
                                     mlir::Builder &builder);

using RecipeErrorFn =
    std::function<void(SourcePos pos, const std::string &message)>;

/// Reports transforms that cannot produce the network's input: a crop or
/// resize of a non-image input, a size other than the input's.
void checkRecipeAgainstInput(const NetworkSpec &spec,
                             const RecipeErrorFn &error);

} // namespace cnnc

#endif // CNNC_IMPORTER_RECIPEATTR_H
