// PNG and JPEG decoding to RGB [3, H, W] in [0, 1], on files written with
// libpng and libjpeg: every PNG colour type and depth PIL's convert('RGB')
// handles, and corrupt files, which must be errors naming the file.
#include "DataTestUtil.h"
#include "ImageWriters.h"

#include "cnnc/data/ImageDecode.h"

#include <cmath>

namespace cnnc::rt::data {
namespace {

using namespace test;

class ImageDecodeTest : public TempDirTest {
protected:
  // Decodes `file` and checks its size.
  std::vector<float> decode(const std::string &file, int64_t height,
                            int64_t width) {
    std::vector<float> pixels;
    Expected<ImageSize> size = decodeImage(path(file), pixels);
    EXPECT_TRUE(size.ok()) << size.message();
    if (!size)
      return {};
    EXPECT_EQ(size->height, height);
    EXPECT_EQ(size->width, width);
    EXPECT_EQ(pixels.size(), static_cast<size_t>(3 * height * width));
    Expected<ImageSize> header = readImageSize(path(file));
    EXPECT_TRUE(header.ok()) << header.message();
    if (header) {
      EXPECT_EQ(header->height, height);
      EXPECT_EQ(header->width, width);
    }
    return pixels;
  }
};

// Channel c of pixel i of a [3, H, W] image with H * W = plane.
float at(const std::vector<float> &img, size_t plane, size_t c, size_t i) {
  return img[c * plane + i];
}

float byte(int v) { return static_cast<float>(v) / 255.0f; }

TEST_F(ImageDecodeTest, Rgb8IsPlanarOver255) {
  PngSpec s;
  s.width = 3;
  s.height = 2;
  for (uint16_t k = 0; k < 18; ++k)
    s.samples.push_back(static_cast<uint16_t>(k * 15));
  writePng(path("rgb.png"), s);
  std::vector<float> img = decode("rgb.png", 2, 3);
  for (size_t i = 0; i < 6; ++i)
    for (size_t c = 0; c < 3; ++c)
      EXPECT_EQ(at(img, 6, c, i), byte(static_cast<int>((3 * i + c) * 15)))
          << i << " " << c;
}

TEST_F(ImageDecodeTest, GrayIsReplicated) {
  PngSpec s;
  s.width = 4;
  s.colorType = PNG_COLOR_TYPE_GRAY;
  s.samples = {0, 1, 128, 255};
  writePng(path("g.png"), s);
  std::vector<float> img = decode("g.png", 1, 4);
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 3; ++c)
      EXPECT_EQ(at(img, 4, c, i), byte(s.samples[i]));
}

TEST_F(ImageDecodeTest, LowBitDepthGrayIsScaledTo255) {
  // As PIL's "L;2" / "L;4" / "1" modes: 2-bit 1 -> 85, 4-bit 1 -> 17, 1-bit 1
  // -> 255.
  for (auto [depth, unit] : {std::pair{1, 255}, {2, 85}, {4, 17}}) {
    PngSpec s;
    s.width = 5;
    s.colorType = PNG_COLOR_TYPE_GRAY;
    s.bitDepth = depth;
    const uint16_t top = static_cast<uint16_t>((1 << depth) - 1);
    s.samples = {0, 1, top, 0, top};
    const std::string file = "g" + std::to_string(depth) + ".png";
    writePng(path(file), s);
    std::vector<float> img = decode(file, 1, 5);
    for (size_t i = 0; i < 5; ++i)
      EXPECT_EQ(at(img, 5, 1, i), byte(s.samples[i] * unit))
          << depth << " " << i;
  }
}

TEST_F(ImageDecodeTest, AlphaIsDroppedNotComposited) {
  PngSpec rgba;
  rgba.width = 2;
  rgba.colorType = PNG_COLOR_TYPE_RGB_ALPHA;
  rgba.samples = {200, 100, 50, 0, 10, 20, 30, 128};
  writePng(path("rgba.png"), rgba);
  std::vector<float> img = decode("rgba.png", 1, 2);
  EXPECT_EQ(img, (std::vector<float>{byte(200), byte(10), byte(100), byte(20),
                                     byte(50), byte(30)}));

  PngSpec ga;
  ga.width = 2;
  ga.colorType = PNG_COLOR_TYPE_GRAY_ALPHA;
  ga.samples = {77, 0, 240, 255};
  writePng(path("ga.png"), ga);
  img = decode("ga.png", 1, 2);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(at(img, 2, c, 0), byte(77));
    EXPECT_EQ(at(img, 2, c, 1), byte(240));
  }
}

TEST_F(ImageDecodeTest, PaletteIsExpandedAndItsTransparencyDropped) {
  for (int depth : {8, 4}) {
    PngSpec s;
    s.width = 3;
    s.colorType = PNG_COLOR_TYPE_PALETTE;
    s.bitDepth = depth;
    s.palette = {{255, 0, 0}, {1, 2, 3}, {40, 50, 60}};
    s.paletteAlpha = {0, 128}; // entry 2 opaque
    s.samples = {2, 0, 1};
    const std::string file = "p" + std::to_string(depth) + ".png";
    writePng(path(file), s);
    std::vector<float> img = decode(file, 1, 3);
    EXPECT_EQ(
        img, (std::vector<float>{byte(40), byte(255), byte(1), byte(50),
                                 byte(0), byte(2), byte(60), byte(0), byte(3)}))
        << depth;
  }
}

TEST_F(ImageDecodeTest, SixteenBitKeepsTheHighByte) {
  PngSpec rgb;
  rgb.width = 2;
  rgb.bitDepth = 16;
  rgb.samples = {0x0000, 0x01ff, 0x80ff, 0xff00, 0xffff, 0x1234};
  writePng(path("rgb16.png"), rgb);
  std::vector<float> img = decode("rgb16.png", 1, 2);
  EXPECT_EQ(img, (std::vector<float>{byte(0x00), byte(0xff), byte(0x01),
                                     byte(0xff), byte(0x80), byte(0x12)}));

  // PIL would clip 16-bit gray to 255 (see ImageDecode.h); cnnc keeps the high
  // byte.
  PngSpec gray;
  gray.width = 3;
  gray.colorType = PNG_COLOR_TYPE_GRAY;
  gray.bitDepth = 16;
  gray.samples = {0x00ff, 0x8000, 0xfff0};
  writePng(path("g16.png"), gray);
  img = decode("g16.png", 1, 3);
  EXPECT_EQ(at(img, 3, 2, 0), byte(0x00));
  EXPECT_EQ(at(img, 3, 2, 1), byte(0x80));
  EXPECT_EQ(at(img, 3, 0, 2), byte(0xff));
}

TEST_F(ImageDecodeTest, InterlacedEqualsNonInterlaced) {
  PngSpec s;
  s.width = 11;
  s.height = 9; // not multiples of Adam7's 8x8 blocks
  for (uint32_t k = 0; k < 3 * 11 * 9; ++k)
    s.samples.push_back(static_cast<uint16_t>((k * 37) % 256));
  writePng(path("plain.png"), s);
  s.interlaced = true;
  writePng(path("adam7.png"), s);
  EXPECT_EQ(decode("plain.png", 9, 11), decode("adam7.png", 9, 11));
}

TEST_F(ImageDecodeTest, JpegRgbGrayAndProgressive) {
  // A smooth gradient survives quality-100 JPEG within a few levels.
  const uint32_t w = 16, h = 8;
  std::vector<uint8_t> rgb;
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x)
      for (uint32_t c = 0; c < 3; ++c)
        rgb.push_back(static_cast<uint8_t>(40 + 8 * x + 4 * y + 20 * c));
  writeJpeg(path("rgb.jpg"), w, h, 3, rgb, 100);
  std::vector<float> img = decode("rgb.jpg", h, w);
  const size_t plane = w * h;
  float worst = 0;
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < 3; ++c)
      worst = std::max(worst,
                       std::fabs(at(img, plane, c, i) - byte(rgb[3 * i + c])));
  EXPECT_LT(worst, 4.0f / 255.0f);

  writeJpeg(path("rgb.JPEG"), w, h, 3, rgb, 100, /*progressive=*/true);
  std::vector<float> progressive = decode("rgb.JPEG", h, w);
  worst = 0;
  for (size_t k = 0; k < img.size(); ++k)
    worst = std::max(worst, std::fabs(progressive[k] - img[k]));
  EXPECT_LT(worst, 4.0f / 255.0f);

  std::vector<uint8_t> gray(plane);
  for (size_t i = 0; i < plane; ++i)
    gray[i] = static_cast<uint8_t>(10 * (i % w));
  writeJpeg(path("gray.jpeg"), w, h, 1, gray, 100);
  img = decode("gray.jpeg", h, w);
  for (size_t i = 0; i < plane; ++i) {
    EXPECT_EQ(at(img, plane, 0, i), at(img, plane, 1, i));
    EXPECT_EQ(at(img, plane, 0, i), at(img, plane, 2, i));
    EXPECT_NEAR(at(img, plane, 0, i), byte(gray[i]), 2.0f / 255.0f);
  }
}

TEST_F(ImageDecodeTest, RecognisesTheFormatByContent) {
  writeTestPng(path("really-a-png.jpg"), 2, 3);
  EXPECT_EQ(decode("really-a-png.jpg", 2, 3).size(), 18u);
}

// Every failure is an error naming the file, whether only the header or the
// whole image is read.
void expectBoth(const std::string &file, const std::string &text) {
  std::vector<float> pixels;
  EXPECT_ERROR_CONTAINS(decodeImage(file, pixels), file + ": ");
  EXPECT_ERROR_CONTAINS(decodeImage(file, pixels), text);
  EXPECT_ERROR_CONTAINS(readImageSize(file), text);
}

TEST_F(ImageDecodeTest, UnreadableFilesAreErrors) {
  expectBoth(path("missing.png"), "cannot open: No such file or directory");
  writeBytes(path("empty.png"), "");
  expectBoth(path("empty.png"), "the file is empty, not a PNG or JPEG image");
  writeBytes(path("text.jpg"), "just some text, not an image");
  expectBoth(path("text.jpg"), "not a PNG or JPEG image");
  writeBytes(path("signature.png"), "\x89PNG\r\n\x1a\n");
  expectBoth(path("signature.png"), "corrupt PNG");
  writeBytes(path("soi.jpg"), "\xff\xd8\xff\xe0garbage");
  expectBoth(path("soi.jpg"), "corrupt JPEG");
}

TEST_F(ImageDecodeTest, CorruptPixelDataIsAnErrorAfterAGoodHeader) {
  PngSpec s;
  s.width = 64;
  s.height = 64;
  for (uint32_t k = 0; k < 3 * 64 * 64; ++k)
    s.samples.push_back(static_cast<uint16_t>((k * 131) % 251));
  writePng(path("good.png"), s);
  const std::string png = readBytes(path("good.png"));

  // Truncated in the middle of IDAT: the header still reads.
  writeBytes(path("truncated.png"), png.substr(0, png.size() / 2));
  ASSERT_TRUE(readImageSize(path("truncated.png")).ok());
  std::vector<float> pixels;
  EXPECT_ERROR_CONTAINS(decodeImage(path("truncated.png"), pixels),
                        path("truncated.png") + ": corrupt PNG: ");

  // A flipped byte inside IDAT: the CRC (or zlib) catches it.
  std::string flipped = png;
  const size_t idat = flipped.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  flipped[idat + 40] = static_cast<char>(flipped[idat + 40] ^ 0x5a);
  writeBytes(path("flipped.png"), flipped);
  EXPECT_ERROR_CONTAINS(decodeImage(path("flipped.png"), pixels),
                        path("flipped.png") + ": corrupt PNG: ");

  std::vector<uint8_t> rgb(3 * 64 * 64);
  for (size_t k = 0; k < rgb.size(); ++k)
    rgb[k] = static_cast<uint8_t>((k * 131) % 251);
  writeJpeg(path("good.jpg"), 64, 64, 3, rgb);
  const std::string jpeg = readBytes(path("good.jpg"));
  writeBytes(path("truncated.jpg"), jpeg.substr(0, jpeg.size() * 2 / 3));
  ASSERT_TRUE(readImageSize(path("truncated.jpg")).ok());
  EXPECT_ERROR_CONTAINS(decodeImage(path("truncated.jpg"), pixels),
                        path("truncated.jpg") +
                            ": corrupt JPEG: Premature end of JPEG file");
}

} // namespace
} // namespace cnnc::rt::data
