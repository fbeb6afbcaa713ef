// safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header
//   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
//   ...,
//    "__metadata__": {"key": "value"}}
// then the raw little-endian data. Tensor names are PyTorch state_dict names,
// so files move between cnnc and PyTorch (safetensors.torch.load_file /
// save_file) without renaming.
#ifndef CNNC_SAFETENSORS_H
#define CNNC_SAFETENSORS_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <map>
#include <string>
#include <string_view>

namespace cnnc::rt {

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata; // "__metadata__", often empty
};

// Parses and validates the bytes of a safetensors file (header length, JSON,
// dtypes, shapes, offsets in range, contiguous and not overlapping, duplicate
// names). `path` only names the file in errors.
Expected<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                           const std::string &path);
Expected<SafetensorsFile> readSafetensors(const std::string &path);

// The header (length + JSON padded with spaces to a multiple of 8 bytes) and
// the order in which the tensors' data follow it, as the safetensors package
// lays them out: keys sorted, data sorted by (alignment descending, name) so
// every tensor is aligned to its element size.
struct SafetensorsLayout {
  std::string header;
  std::vector<const Tensor *> dataOrder;
};
Expected<SafetensorsLayout>
safetensorsLayout(const TensorMap &tensors,
                  const std::map<std::string, std::string> &metadata,
                  const std::string &path);

// Writes atomically (temporary file in the same directory, then rename).
Status
writeSafetensors(const std::string &path, const TensorMap &tensors,
                 const std::map<std::string, std::string> &metadata = {});

} // namespace cnnc::rt

#endif // CNNC_SAFETENSORS_H
