// PNG and JPEG decoding of folder: data (libpng and libjpeg behind their
// setjmp error handlers) on arbitrary bytes; the first byte picks the
// codec and whether only the header is read. An error, or an image of at
// most the pixel limit whose every pixel is readable.
#include "FuzzTarget.h"

#include "../runtime/src/data/ImageCodecs.h"

#include <cstdio>
#include <cstdlib>

using namespace cnnc::rt::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  const bool jpeg = data[0] & 1, headerOnly = data[0] & 2;
  std::FILE *file = fmemopen(const_cast<uint8_t *>(data + 1), size - 1, "rb");
  if (!file)
    return 0;
  constexpr int64_t kMaxPixels = int64_t(1) << 22;
  RawRgbImage image;
  char error[256] = "";
  const bool ok = jpeg ? readJpegRgb8(file, headerOnly, kMaxPixels, &image,
                                      error, sizeof error)
                       : readPngRgb8(file, headerOnly, kMaxPixels, &image,
                                     error, sizeof error);
  std::fclose(file);
  if (!ok) {
    CNNC_FUZZ_CHECK(error[0] != '\0' && image.pixels == nullptr);
    return 0;
  }
  CNNC_FUZZ_CHECK(int64_t(image.width) * image.height <= kMaxPixels);
  if (!headerOnly) {
    CNNC_FUZZ_CHECK(image.pixels != nullptr);
    unsigned sum = 0;
    for (size_t i = 0, e = size_t(image.width) * image.height * 3; i < e; ++i)
      sum += image.pixels[i];
    (void)sum;
  }
  std::free(image.pixels);
  return 0;
}
