// Small text helpers for diagnostics: "did you mean" (shared with the recipe
// schema) and name checks.
#ifndef CNNC_IMPORTER_SUGGEST_H
#define CNNC_IMPORTER_SUGGEST_H

#include "cnnc/recipe/Suggest.h"

#include <string>

namespace cnnc {

/// Letters, digits and '_', not starting with a digit: safe in parameter
/// names, C identifiers and file names.
bool isValidLayerName(const std::string &name);

} // namespace cnnc

#endif // CNNC_IMPORTER_SUGGEST_H
