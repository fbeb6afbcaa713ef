// PNG and JPEG files decoded to RGB like torchvision's ImageFolder loader
// (PIL's Image.open(path).convert('RGB'), then ToTensor): grayscale is
// replicated into the three channels, alpha is dropped, palettes are
// expanded, 16-bit samples keep their high byte, and the result is float32
// [3, H, W] with values x / 255.
//
// One deliberate difference: PIL 9.4 opens a 16-bit grayscale PNG (without
// alpha) as 32-bit integers and clips them to 255 when converting to RGB, so
// such images reach torchvision almost white; here they keep their high byte,
// as PIL does for 16-bit colour and gray+alpha PNGs.
//
// The format is recognised by content, not by name. Decoding never aborts:
// libpng and libjpeg report errors through longjmp, which only ever crosses
// their own C frames (see ImageCodecs.h).
#ifndef CNNC_DATA_IMAGEDECODE_H
#define CNNC_DATA_IMAGEDECODE_H

#include "cnnc/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cnnc::rt::data {

struct ImageSize {
  int64_t height = 0, width = 0;
};

// PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS * 2): larger images
// are refused rather than allocated.
constexpr int64_t kMaxImagePixels = 2 * 89478485;

// The size from the file's header (PNG IHDR, JPEG SOF) without decoding the
// pixels. Errors name the file.
Expected<ImageSize> readImageSize(const std::string &path);

// Decodes the whole image into `pixels` (resized to 3 * H * W, [3, H, W]
// row-major, values in [0, 1]). Corrupt or truncated data is an error naming
// the file.
Expected<ImageSize> decodeImage(const std::string &path,
                                std::vector<float> &pixels);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_IMAGEDECODE_H
