#include "cnnc/data/ImageDecode.h"

#include "ImageCodecs.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace cnnc::rt::data {

namespace {

enum class Format { Png, Jpeg };

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Opens `path` and recognises PNG or JPEG by their first bytes; the file is
// left at its start.
Expected<Format> openImage(const std::string &path, File &file) {
  file.reset(std::fopen(path.c_str(), "rb"));
  if (!file)
    return Error(path + ": cannot open: " + std::strerror(errno));
  unsigned char magic[8] = {};
  size_t got = std::fread(magic, 1, sizeof magic, file.get());
  if (std::fseek(file.get(), 0, SEEK_SET) != 0)
    return Error(path + ": cannot read: " + std::strerror(errno));
  static const unsigned char kPng[8] = {0x89, 'P',  'N',  'G',
                                        '\r', '\n', 0x1a, '\n'};
  if (got == 8 && std::memcmp(magic, kPng, 8) == 0)
    return Format::Png;
  if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff)
    return Format::Jpeg;
  if (got == 0)
    return Error(path + ": the file is empty, not a PNG or JPEG image");
  return Error(path + ": not a PNG or JPEG image (unrecognised content)");
}

Expected<RawRgbImage> read(const std::string &path, bool headerOnly) {
  File file;
  Expected<Format> format = openImage(path, file);
  if (!format)
    return format.error();
  RawRgbImage image;
  char message[256] = {};
  bool ok = *format == Format::Png
                ? readPngRgb8(file.get(), headerOnly, kMaxImagePixels, &image,
                              message, sizeof message)
                : readJpegRgb8(file.get(), headerOnly, kMaxImagePixels, &image,
                               message, sizeof message);
  if (!ok)
    return Error(path + ": " + message);
  if (image.width == 0 || image.height == 0) {
    std::free(image.pixels);
    return Error(path + ": the image has no pixels (" +
                 std::to_string(image.width) + "x" +
                 std::to_string(image.height) + ")");
  }
  return image;
}

} // namespace

Expected<ImageSize> readImageSize(const std::string &path) {
  Expected<RawRgbImage> image = read(path, /*headerOnly=*/true);
  if (!image)
    return image.error();
  return ImageSize{image->height, image->width};
}

Expected<ImageSize> decodeImage(const std::string &path,
                                std::vector<float> &pixels) {
  Expected<RawRgbImage> image = read(path, /*headerOnly=*/false);
  if (!image)
    return image.error();
  std::unique_ptr<unsigned char, decltype(&std::free)> owned(image->pixels,
                                                             &std::free);
  const size_t plane = size_t{image->width} * image->height;
  pixels.resize(3 * plane);
  const unsigned char *src = owned.get();
  // Interleaved RGB to planes, x / 255 in float as ToTensor computes it.
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < 3; ++c)
      pixels[c * plane + i] = static_cast<float>(src[3 * i + c]) / 255.0f;
  return ImageSize{image->height, image->width};
}

} // namespace cnnc::rt::data
