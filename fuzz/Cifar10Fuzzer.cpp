// The CIFAR-10 binary reader on an arbitrary test_batch.bin: an error, or
// 3x32x32 images with a label in 0..9 each.
#include "FuzzTarget.h"

#include "cnnc/data/Cifar10.h"

using namespace cnnc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cnnc::fuzz::writeScratch("test_batch.bin", cnnc::fuzz::bytesOf(data, size));
  Expected<data::Dataset> d =
      data::loadCifar10(cnnc::fuzz::scratchDir(), data::Split::Test);
  if (!d)
    return 0;
  const int64_t n = d->labels.numElements();
  CNNC_FUZZ_CHECK(n >= 1 && d->images.shape()[0] == n);
  for (int64_t i = 0; i < n; ++i)
    CNNC_FUZZ_CHECK(d->labels.i64()[i] >= 0 && d->labels.i64()[i] < 10);
  return 0;
}
