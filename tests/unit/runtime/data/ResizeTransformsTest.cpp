// Resize, CenterCrop, RandomResizedCrop and PIL-style bilinear resampling on
// small known images (their agreement with torchvision/PIL on real images is
// tests/e2e/transforms_parity.py).
#include "DataTestUtil.h"

#include "cnnc/data/ResizeTransforms.h"

#include <cmath>
#include <set>

namespace cnnc::rt::data {
namespace {

using namespace test;

std::vector<float> run(const Transform &t, const std::vector<float> &in,
                       const Shape &shape, uint64_t seed = 1) {
  Expected<Shape> out = t.outputShape(shape);
  EXPECT_TRUE(out.ok()) << out.message();
  std::vector<float> result(
      static_cast<size_t>((*out)[0] * (*out)[1] * (*out)[2]), -99.0f);
  std::mt19937_64 rng(seed);
  t.apply(in.data(), shape, result.data(), rng);
  return result;
}

TEST(ResizeTransformsTest, ResizeShorterSideTruncatesTheLongerOne) {
  auto r = *Resize::shorterSide(256);
  EXPECT_EQ(*r->outputShape({3, 375, 500}),
            (Shape{3, 256, 341})); // 256*500/375 = 341.33
  EXPECT_EQ(*r->outputShape({3, 500, 333}), (Shape{3, 384, 256})); // 384.38
  EXPECT_EQ(*r->outputShape({1, 10, 10}), (Shape{1, 256, 256}));
  EXPECT_EQ(r->describe(), "Resize(256)");
  auto exact = *Resize::exactly(4, 6);
  EXPECT_EQ(*exact->outputShape({3, 100, 7}), (Shape{3, 4, 6}));
  EXPECT_EQ(exact->describe(), "Resize((4, 6))");
  EXPECT_ERROR_CONTAINS(Resize::shorterSide(0),
                        "Resize(0): the size must be positive");
}

TEST(ResizeTransformsTest, UpsamplingIsBilinearWithHalfPixelCentres) {
  // 1x2 -> 1x4: output centres at 0.25, 0.75, 1.25, 1.75 source pixels (in
  // pixel-centre coordinates -0.25, 0.25, 0.75, 1.25: edges clamp).
  auto r = *Resize::exactly(1, 4);
  EXPECT_EQ(run(*r, {0.0f, 1.0f}, {1, 1, 2}),
            (std::vector<float>{0.0f, 0.25f, 0.75f, 1.0f}));
}

TEST(ResizeTransformsTest, DownsamplingAntialiasesLikePil) {
  // 1x4 -> 1x2 (scale 2): PIL's triangle has support 2; output 0 is centred
  // at 1.0 and weighs pixels 0..2 as 0.75, 0.75, 0.25 (normalised by 1.75).
  auto r = *Resize::exactly(1, 2);
  std::vector<float> out = run(*r, {0.0f, 1.0f, 2.0f, 3.0f}, {1, 1, 4});
  EXPECT_NEAR(out[0], (0.0f * 0.75f + 1.0f * 0.75f + 2.0f * 0.25f) / 1.75f,
              1e-6);
  EXPECT_NEAR(out[1], (1.0f * 0.25f + 2.0f * 0.75f + 3.0f * 0.75f) / 1.75f,
              1e-6);
  // A constant image stays constant whatever the factors.
  std::vector<float> flat(3 * 17 * 23, 0.4f);
  for (float v : run(**Resize::exactly(5, 9), flat, {3, 17, 23}))
    EXPECT_NEAR(v, 0.4f, 1e-6);
}

TEST(ResizeTransformsTest, SameSizePassesThrough) {
  std::vector<float> img = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  EXPECT_EQ(run(**Resize::shorterSide(2), img, {1, 2, 3}), img);
}

TEST(ResizeTransformsTest, CenterCropRoundsHalfToEven) {
  // Width 7 -> 2: offset round(2.5) = 2; width 6 -> 3: round(1.5) = 2;
  // width 4 -> 3: round(0.5) = 0.
  std::vector<float> row7 = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(run(**CenterCrop::create(1, 2), row7, {1, 1, 7}),
            (std::vector<float>{2, 3}));
  std::vector<float> row6 = {0, 1, 2, 3, 4, 5};
  EXPECT_EQ(run(**CenterCrop::create(1, 3), row6, {1, 1, 6}),
            (std::vector<float>{2, 3, 4}));
  std::vector<float> row4 = {0, 1, 2, 3};
  EXPECT_EQ(run(**CenterCrop::create(1, 3), row4, {1, 1, 4}),
            (std::vector<float>{0, 1, 2}));
  EXPECT_EQ((*CenterCrop::create(2, 3))->describe(), "CenterCrop((2, 3))");
}

TEST(ResizeTransformsTest, CenterCropPadsSmallImagesWithZeros) {
  // 1x2 into 3x5: pad (5-2)//2 = 1 left, 2 right, 1 above, 1 below.
  std::vector<float> out = run(**CenterCrop::create(3, 5), {7, 8}, {1, 1, 2});
  EXPECT_EQ(out,
            (std::vector<float>{0, 0, 0, 0, 0, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0}));
  // Padded in one direction, cropped in the other: width 4 -> 2 at round(1)
  // = 1.
  out = run(**CenterCrop::create(2, 2), {1, 2, 3, 4}, {1, 1, 4});
  EXPECT_EQ(out, (std::vector<float>{2, 3, 0, 0}));
}

// Replays given values as the crop's draws.
class ListDraws : public CropDraws {
public:
  explicit ListDraws(std::vector<double> u) : u_(std::move(u)) {}
  float uniform(double lo, double hi) override {
    return static_cast<float>(lo + (hi - lo) * next());
  }
  int64_t below(int64_t n) override { return static_cast<int64_t>(next() * n); }
  size_t used() const { return k_; }

private:
  double next() { return u_.at(k_++); }
  std::vector<double> u_;
  size_t k_ = 0;
};

TEST(ResizeTransformsTest, ResizedCropFirstFittingAttempt) {
  // 100x200 image (area 20000); attempt 1: scale 1.0, ratio 4/3 -> w 163, h 122
  // > 100: rejected; attempt 2: scale 0.08 + 0.92*0.5 = 0.54 (area 10800),
  // ratio e^0 = 1
  // -> 104 x 104 > 100: rejected; attempt 3: area 0.08*20000 = 1600, ratio 1
  // -> 40 x 40; top uniform in [0, 61), left in [0, 161).
  const double mid = 0.5; // log-uniform midpoint: log ratio 0
  ListDraws draws({1.0, 1.0, 0.5, mid, 0.0, mid, 0.5, 0.25});
  PixelBox box = sampleResizedCropBox(100, 200, ResizedCropRange{}, draws);
  EXPECT_EQ(draws.used(), 8u);
  EXPECT_EQ(box.height, 40);
  EXPECT_EQ(box.width, 40);
  EXPECT_EQ(box.top, 30);  // floor(0.5 * 61)
  EXPECT_EQ(box.left, 40); // floor(0.25 * 161)
}

TEST(ResizeTransformsTest, ResizedCropFallsBackToTheCentralCrop) {
  // Every attempt asks for the whole area at ratio 4/3 on a 10x100 strip:
  // 10 attempts fail, then the fallback clamps the ratio: h 10, w round(13.33)
  // = 13.
  ListDraws draws(std::vector<double>(20, 0.999999));
  PixelBox box = sampleResizedCropBox(10, 100, ResizedCropRange{}, draws);
  EXPECT_EQ(draws.used(), 20u);
  EXPECT_EQ(box.height, 10);
  EXPECT_EQ(box.width, 13);
  EXPECT_EQ(box.top, 0);
  EXPECT_EQ(box.left, 43); // (100 - 13) // 2
  // A tall strip: w 10, h round(10 / 0.75) = 13; a square one: the whole image.
  ListDraws tall(std::vector<double>(20, 0.999999));
  box = sampleResizedCropBox(100, 10, {1.0, 1.0, 0.75, 0.75}, tall);
  EXPECT_EQ(box.width, 10);
  EXPECT_EQ(box.height, 13);
  EXPECT_EQ(box.top, 43);
  ListDraws square(std::vector<double>(20, 0.999999));
  box = sampleResizedCropBox(10, 10, {1.0, 1.0, 0.5, 2.0},
                             square); // 14x7 never fits
  EXPECT_EQ(box.width, 10);
  EXPECT_EQ(box.height, 10);
}

TEST(ResizeTransformsTest, ResizedCropBoxesRespectScaleAndRatio) {
  // Over many seeded samples: every box lies in the image; a box from an
  // attempt (not the fallback) has area / image area in the scale range and
  // w / h in the ratio range, up to the rounding of w and h to integers.
  const ResizedCropRange range{0.2, 0.7, 0.5, 2.0};
  const int64_t H = 180, W = 240;
  std::set<int64_t> tops, widths;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    std::mt19937_64 rng(seed);
    struct : CropDraws {
      std::mt19937_64 *rng;
      float uniform(double lo, double hi) override {
        return static_cast<float>(
            lo + (hi - lo) * std::generate_canonical<double, 53>(*rng));
      }
      int64_t below(int64_t n) override {
        return std::uniform_int_distribution<int64_t>(0, n - 1)(*rng);
      }
    } draws;
    draws.rng = &rng;
    PixelBox b = sampleResizedCropBox(H, W, range, draws);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, H);
    ASSERT_LE(b.left + b.width, W);
    const double area = static_cast<double>(b.height * b.width) / (H * W);
    const double ratio =
        static_cast<double>(b.width) / static_cast<double>(b.height);
    // Rounding moves w and h by at most 0.5 each.
    const double hi = (b.width + 0.5) * (b.height + 0.5) / (H * W);
    const double lo = (b.width - 0.5) * (b.height - 0.5) / (H * W);
    EXPECT_TRUE(hi >= range.scaleMin && lo <= range.scaleMax) << area;
    EXPECT_GE((b.width + 0.5) / (b.height - 0.5), range.ratioMin) << ratio;
    EXPECT_LE((b.width - 0.5) / (b.height + 0.5), range.ratioMax) << ratio;
    tops.insert(b.top);
    widths.insert(b.width);
  }
  // And they vary: positions and sizes spread over their ranges.
  EXPECT_GT(tops.size(), 50u);
  EXPECT_GT(widths.size(), 50u);
}

TEST(ResizeTransformsTest, RandomResizedCropIsSeededAndSized) {
  auto crop = *RandomResizedCrop::create(4, 5, ResizedCropRange{});
  EXPECT_EQ(*crop->outputShape({3, 30, 20}), (Shape{3, 4, 5}));
  std::vector<float> img(3 * 30 * 20);
  for (size_t k = 0; k < img.size(); ++k)
    img[k] = static_cast<float>(k % 97) / 97.0f;
  EXPECT_EQ(run(*crop, img, {3, 30, 20}, 5), run(*crop, img, {3, 30, 20}, 5));
  EXPECT_NE(run(*crop, img, {3, 30, 20}, 5), run(*crop, img, {3, 30, 20}, 6));
  EXPECT_EQ(
      crop->describe(),
      "RandomResizedCrop((4, 5), scale=(0.08, 1), ratio=(0.75, 1.33333))");
  EXPECT_ERROR_CONTAINS(RandomResizedCrop::create(4, 4, {0.5, 0.2, 0.75, 1.3}),
                        "the scale range must satisfy 0 < min <= max <= 1");
  EXPECT_ERROR_CONTAINS(RandomResizedCrop::create(4, 4, {0.1, 1.0, 0.0, 1.3}),
                        "the ratio range must satisfy 0 < min <= max");
}

} // namespace
} // namespace cnnc::rt::data
