// The npy reader on arbitrary bytes: an error, or a tensor whose data fit
// in the file.
#include "FuzzTarget.h"

#include "cnnc/Npy.h"

using namespace cnnc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<Tensor> t = parseNpy(cnnc::fuzz::bytesOf(data, size), "fuzz.npy");
  if (!t)
    return 0;
  CNNC_FUZZ_CHECK(t->numElements() >= 0);
  CNNC_FUZZ_CHECK(size_t(t->numElements()) * dtypeSize(t->dtype()) <= size);
  return 0;
}
