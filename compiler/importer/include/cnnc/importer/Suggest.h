// Small text helpers for diagnostics: "did you mean" and name checks.
#ifndef CNNC_IMPORTER_SUGGEST_H
#define CNNC_IMPORTER_SUGGEST_H

#include <optional>
#include <string>
#include <vector>

namespace cnnc {

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo (at most a third of the word's length, at least 1).
std::optional<std::string>
nearestMatch(const std::string &word,
             const std::vector<std::string> &candidates);

/// "a, b, c"
std::string joinNames(const std::vector<std::string> &names);

/// Letters, digits and '_', not starting with a digit: safe in parameter
/// names, C identifiers and file names.
bool isValidLayerName(const std::string &name);

} // namespace cnnc

#endif // CNNC_IMPORTER_SUGGEST_H
