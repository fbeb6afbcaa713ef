#include "cnnc/importer/Suggest.h"

#include <algorithm>
#include <cctype>

namespace cnnc {

bool isValidLayerName(const std::string &name) {
  if (name.empty() || name.size() > 128 ||
      std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

} // namespace cnnc
