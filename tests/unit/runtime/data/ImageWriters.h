// Test helpers: PNG and JPEG files written with libpng and libjpeg, so the
// decoders are tested on files made by the reference libraries. Writing
// valid images cannot fail, so libpng's and libjpeg's default error handlers
// (which abort) are left in place.
#ifndef CNNC_RUNTIME_DATA_IMAGE_WRITERS_H
#define CNNC_RUNTIME_DATA_IMAGE_WRITERS_H

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

namespace cnnc::rt::data::test {

struct PngSpec {
  uint32_t width = 1, height = 1;
  int colorType = PNG_COLOR_TYPE_RGB; // PNG_COLOR_TYPE_*
  int bitDepth = 8;
  // Samples row-major, channels interleaved (palette: indices), one value
  // per sample whatever the bit depth.
  std::vector<uint16_t> samples;
  std::vector<png_color> palette;
  std::vector<uint8_t> paletteAlpha; // tRNS for a palette
  bool interlaced = false;
};

inline int pngChannels(int colorType) {
  switch (colorType) {
  case PNG_COLOR_TYPE_GRAY:
  case PNG_COLOR_TYPE_PALETTE:
    return 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA:
    return 2;
  case PNG_COLOR_TYPE_RGB:
    return 3;
  default:
    return 4;
  }
}

inline void writePng(const std::string &path, const PngSpec &s) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, s.width, s.height, s.bitDepth, s.colorType,
               s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty())
    png_set_PLTE(png, info, s.palette.data(),
                 static_cast<int>(s.palette.size()));
  if (!s.paletteAlpha.empty())
    png_set_tRNS(png, info, s.paletteAlpha.data(),
                 static_cast<int>(s.paletteAlpha.size()), nullptr);
  png_write_info(png, info);
  // Pack the samples into rows of the file's bit depth (big-endian).
  const int channels = pngChannels(s.colorType);
  const size_t perRow = size_t{s.width} * channels;
  const size_t rowBytes = (perRow * s.bitDepth + 7) / 8;
  std::vector<std::vector<png_byte>> rows(s.height,
                                          std::vector<png_byte>(rowBytes, 0));
  for (uint32_t y = 0; y < s.height; ++y)
    for (size_t k = 0; k < perRow; ++k) {
      uint16_t v = s.samples[y * perRow + k];
      png_byte *row = rows[y].data();
      if (s.bitDepth == 16) {
        row[2 * k] = static_cast<png_byte>(v >> 8);
        row[2 * k + 1] = static_cast<png_byte>(v & 0xff);
      } else if (s.bitDepth == 8) {
        row[k] = static_cast<png_byte>(v);
      } else {
        const size_t bit = k * s.bitDepth;
        row[bit / 8] |= static_cast<png_byte>(v << (8 - s.bitDepth - bit % 8));
      }
    }
  std::vector<png_bytep> pointers;
  for (auto &r : rows)
    pointers.push_back(r.data());
  png_write_image(png, pointers.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// A JPEG of `components` (1: grayscale, 3: RGB) interleaved 8-bit samples.
inline void writeJpeg(const std::string &path, uint32_t width, uint32_t height,
                      int components, const std::vector<uint8_t> &samples,
                      int quality = 95, bool progressive = false) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = width;
  c.image_height = height;
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive)
    jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < height) {
    JSAMPROW row =
        const_cast<uint8_t *>(samples.data()) +
        size_t{c.next_scanline} * width * static_cast<size_t>(components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

// An RGB PNG of height x width whose pixel (y, x) is (r, g, b) = (y * 16 + x,
// 255 - x, seed) modulo 256: distinct images for the folder tests.
inline void writeTestPng(const std::string &path, uint32_t height,
                         uint32_t width, uint16_t seed = 0) {
  PngSpec s;
  s.width = width;
  s.height = height;
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      s.samples.push_back(static_cast<uint16_t>((y * 16 + x) % 256));
      s.samples.push_back(static_cast<uint16_t>((255 - x) % 256));
      s.samples.push_back(static_cast<uint16_t>(seed % 256));
    }
  writePng(path, s);
}

} // namespace cnnc::rt::data::test

#endif // CNNC_RUNTIME_DATA_IMAGE_WRITERS_H
