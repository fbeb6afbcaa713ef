// NumPy .npy files
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
// Reads format versions 1.0, 2.0 and 3.0 and writes 1.0, for the dtypes
// '<f4' (float32) and '<i8' (int64), C order only.
#ifndef CNNC_NPY_H
#define CNNC_NPY_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <string>
#include <string_view>

namespace cnnc::rt {

// Parses the bytes of a .npy file; `path` only names the file in errors.
Expected<Tensor> parseNpy(std::string_view bytes, const std::string &path);
Expected<Tensor> readNpy(const std::string &path);

// The header (magic, version 1.0, length, dict, padding) of a .npy file
// holding `tensor`; the raw data follows it.
std::string npyHeader(const Tensor &tensor);
Status writeNpy(const std::string &path, const Tensor &tensor);

} // namespace cnnc::rt

#endif // CNNC_NPY_H
