// libjpeg behind readJpegRgb8. Plain C data only between setjmp and longjmp
// (see ImageCodecs.h).
#include "ImageCodecs.h"

#include <csetjmp>
#include <cstdlib>

#include <jerror.h>
#include <jpeglib.h>

namespace cnnc::rt::data {

namespace {

struct JpegErrorState {
  jpeg_error_mgr manager; // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char *message;
  size_t size;
};

[[noreturn]] void failJpeg(j_common_ptr info) {
  auto *state = reinterpret_cast<JpegErrorState *>(info->err);
  char text[JMSG_LENGTH_MAX];
  (*info->err->format_message)(info, text);
  std::snprintf(state->message, state->size, "corrupt JPEG: %s", text);
  std::longjmp(state->jump, 1);
}

// libjpeg only warns about a file that ends early and fills the rest with
// gray; PIL refuses it ("image file is truncated"), and so does cnnc. Other
// warnings (extraneous bytes, ...) leave a usable image, as in PIL.
void onJpegMessage(j_common_ptr info, int level) {
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF)
    failJpeg(info);
}

} // namespace

bool readJpegRgb8(std::FILE *file, bool headerOnly, int64_t maxPixels,
                  RawRgbImage *out, char *error, size_t errorSize) {
  jpeg_decompress_struct info;
  JpegErrorState state;
  info.err = jpeg_std_error(&state.manager);
  state.manager.error_exit = failJpeg;
  state.manager.emit_message = onJpegMessage;
  state.message = error;
  state.size = errorSize;
  // Assigned after setjmp and read in its error branch: volatile.
  unsigned char *volatile pixels = nullptr;
  if (setjmp(state.jump)) {
    std::free(pixels);
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  if (static_cast<int64_t>(info.image_width) *
          static_cast<int64_t>(info.image_height) >
      maxPixels) {
    std::snprintf(error, errorSize,
                  "the image is too large (more than PIL's limit of pixels)");
    jpeg_destroy_decompress(&info);
    return false;
  }
  out->width = info.image_width;
  out->height = info.image_height;
  if (headerOnly) {
    jpeg_destroy_decompress(&info);
    return true;
  }
  switch (info.jpeg_color_space) {
  case JCS_GRAYSCALE: // replicated into R, G and B by libjpeg, as PIL's
                      // convert('RGB')
  case JCS_YCbCr:
  case JCS_RGB:
    info.out_color_space = JCS_RGB;
    break;
  default:
    std::snprintf(error, errorSize,
                  "CMYK/YCCK JPEGs are not supported (only grayscale and RGB); "
                  "convert it "
                  "to RGB");
    jpeg_destroy_decompress(&info);
    return false;
  }
  // libjpeg's defaults (islow DCT, fancy upsampling) are PIL's as well, so
  // the pixels equal PIL's when both use the same libjpeg.
  jpeg_start_decompress(&info);
  if (info.output_components != 3)
    ERREXIT(&info, JERR_CONVERSION_NOTIMPL);
  const size_t rowBytes = size_t{info.output_width} * 3;
  pixels =
      static_cast<unsigned char *>(std::malloc(rowBytes * info.output_height));
  if (!pixels)
    ERREXIT1(&info, JERR_OUT_OF_MEMORY, 0);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = pixels + size_t{info.output_scanline} * rowBytes;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  out->pixels = pixels;
  return true;
}

} // namespace cnnc::rt::data
