// Small text helpers for diagnostics: "did you mean" and lists of names.
// Shared by the importer and the recipe schema, so both suggest alike.
#ifndef CNNC_RECIPE_SUGGEST_H
#define CNNC_RECIPE_SUGGEST_H

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

} // namespace cnnc

#endif // CNNC_RECIPE_SUGGEST_H
