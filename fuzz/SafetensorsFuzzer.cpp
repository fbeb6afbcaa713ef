// The safetensors reader on arbitrary bytes: an error, or tensors whose
// data together fit in the file.
#include "FuzzTarget.h"

#include "cnnc/Safetensors.h"

using namespace cnnc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<SafetensorsFile> file =
      parseSafetensors(cnnc::fuzz::bytesOf(data, size), "fuzz.safetensors");
  if (!file)
    return 0;
  size_t total = 0;
  for (const auto &[name, tensor] : file->tensors) {
    CNNC_FUZZ_CHECK(tensor.numElements() >= 0);
    total += size_t(tensor.numElements()) * dtypeSize(tensor.dtype());
  }
  CNNC_FUZZ_CHECK(total <= size);
  return 0;
}
