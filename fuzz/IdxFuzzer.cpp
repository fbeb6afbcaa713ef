// The IDX (MNIST, Fashion-MNIST) reader, gzipped or not: the first two
// bytes give the length of the images file, the rest is the labels file.
// An error, or a dataset of as many labels as images, each a class.
#include "FuzzTarget.h"

#include "cnnc/data/Mnist.h"

using namespace cnnc::rt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  const size_t split =
      std::min<size_t>(size - 2, size_t(data[0]) << 8 | data[1]);
  const std::string images = cnnc::fuzz::writeScratch(
      "images.idx", cnnc::fuzz::bytesOf(data + 2, split));
  const std::string labels = cnnc::fuzz::writeScratch(
      "labels.idx", cnnc::fuzz::bytesOf(data + 2 + split, size - 2 - split));
  Expected<data::Dataset> d = data::loadIdxPair(images, labels, 10);
  if (!d)
    return 0;
  const int64_t n = d->labels.numElements();
  CNNC_FUZZ_CHECK(d->images.shape().size() == 4 && d->images.shape()[0] == n);
  for (int64_t i = 0; i < n; ++i)
    CNNC_FUZZ_CHECK(d->labels.i64()[i] >= 0 && d->labels.i64()[i] < 10);
  return 0;
}
