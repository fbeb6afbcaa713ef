// The libpng and libjpeg calls behind ImageDecode.h (private).
//
// Both libraries report errors by longjmp from their error callbacks. These
// functions hold nothing but plain C data between setjmp and any longjmp
// (C++ forbids jumping over frames whose objects have non-trivial
// destructors): the caller opens and closes the FILE, the pixels are
// malloc'd, and on an error everything allocated here is freed in the
// setjmp branch before returning false.
#ifndef CNNC_DATA_IMAGECODECS_H
#define CNNC_DATA_IMAGECODECS_H

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace cnnc::rt::data {

struct RawRgbImage {
  uint32_t width = 0, height = 0;
  unsigned char *pixels =
      nullptr; // malloc'd RGB8, row-major; null for headers only
};

// Reads a PNG (`headerOnly`: just its size) from `file`, positioned at its
// start. On failure writes a message to `error` and returns false.
bool readPngRgb8(std::FILE *file, bool headerOnly, int64_t maxPixels,
                 RawRgbImage *out, char *error, size_t errorSize);

// The same for a JPEG (baseline or progressive; grayscale, YCbCr or RGB).
bool readJpegRgb8(std::FILE *file, bool headerOnly, int64_t maxPixels,
                  RawRgbImage *out, char *error, size_t errorSize);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_IMAGECODECS_H
