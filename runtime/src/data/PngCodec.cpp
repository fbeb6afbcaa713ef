// libpng behind readPngRgb8. Plain C data only between setjmp and longjmp
// (see ImageCodecs.h).
#include "ImageCodecs.h"

#include <png.h>

#include <csetjmp>
#include <cstdlib>

namespace cnnc::rt::data {

namespace {

struct PngErrorState {
  std::jmp_buf jump;
  char *message;
  size_t size;
};

[[noreturn]] void onPngError(png_structp png, png_const_charp message) {
  auto *state = static_cast<PngErrorState *>(png_get_error_ptr(png));
  std::snprintf(state->message, state->size, "corrupt PNG: %s", message);
  std::longjmp(state->jump, 1);
}

// Problems in ancillary chunks (bad CRC of a text chunk, unknown sRGB
// profile, ...) do not touch the pixels: PIL ignores them too.
void onPngWarning(png_structp, png_const_charp) {}

} // namespace

bool readPngRgb8(std::FILE *file, bool headerOnly, int64_t maxPixels,
                 RawRgbImage *out, char *error, size_t errorSize) {
  PngErrorState state;
  state.message = error;
  state.size = errorSize;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state,
                                           onPngError, onPngWarning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(png ? &png : nullptr, nullptr, nullptr);
    std::snprintf(error, errorSize, "out of memory for the PNG decoder");
    return false;
  }
  // Assigned after setjmp and read in its error branch: volatile, so the
  // longjmp cannot restore a stale register copy.
  unsigned char *volatile pixels = nullptr;
  png_bytep *volatile rows = nullptr;
  if (setjmp(state.jump)) {
    std::free(pixels);
    std::free(rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_init_io(png, file);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, colorType = 0;
  png_get_IHDR(png, info, &width, &height, &depth, &colorType, nullptr, nullptr,
               nullptr);
  if (static_cast<int64_t>(width) * static_cast<int64_t>(height) > maxPixels)
    png_error(png, "the image is too large (more than PIL's limit of pixels)");
  out->width = width;
  out->height = height;
  if (headerOnly) {
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  // To 8-bit RGB as PIL's convert('RGB') does: palette expanded (its
  // transparency dropped with the alpha), low-depth gray scaled to 0..255,
  // 16-bit samples reduced to their high byte, alpha dropped, gray
  // replicated. No gamma correction: PIL ignores gAMA as well.
  if (colorType == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(png);
  if (colorType == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16)
    png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (colorType == PNG_COLOR_TYPE_GRAY ||
      colorType == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t rowBytes = png_get_rowbytes(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
      rowBytes != size_t{width} * 3)
    png_error(png, "unexpected layout after conversion to RGB");
  pixels = static_cast<unsigned char *>(std::malloc(rowBytes * height));
  rows = static_cast<png_bytep *>(std::malloc(sizeof(png_bytep) * height));
  if (!pixels || !rows)
    png_error(png, "out of memory for the pixels");
  for (png_uint_32 y = 0; y < height; ++y)
    rows[y] = pixels + y * rowBytes;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
  out->pixels = pixels;
  return true;
}

} // namespace cnnc::rt::data
