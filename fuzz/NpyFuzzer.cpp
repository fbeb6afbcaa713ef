// The npy reader on arbitrary bytes: an error, or a tensor whose data fit
// in the file. The file reader (header first, then the data straight into
// the tensor) agrees with the in-memory parser on every input.
#include "FuzzTarget.h"

#include "cnnc/Npy.h"

#include <cstring>

using namespace cnnc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string bytes = cnnc::fuzz::bytesOf(data, size);
  Expected<Tensor> t = parseNpy(bytes, "fuzz.npy");
  const std::string path = cnnc::fuzz::writeScratch("fuzz.npy", bytes);
  Expected<Tensor> read = readNpy(path);
  CNNC_FUZZ_CHECK(t.ok() == read.ok());
  if (!t) {
    // The same message, but for the path.
    CNNC_FUZZ_CHECK(read.message().substr(path.size()) ==
                    t.message().substr(std::strlen("fuzz.npy")));
    return 0;
  }
  CNNC_FUZZ_CHECK(t->numElements() >= 0);
  CNNC_FUZZ_CHECK(size_t(t->numElements()) * dtypeSize(t->dtype()) <= size);
  CNNC_FUZZ_CHECK(read->dtype() == t->dtype() && read->shape() == t->shape());
  CNNC_FUZZ_CHECK(read->byteSize() == t->byteSize() &&
                  (t->byteSize() == 0 ||
                   std::memcmp(read->bytes(), t->bytes(), t->byteSize()) == 0));
  return 0;
}
