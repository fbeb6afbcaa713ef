// Normalize, RandomCrop and RandomHorizontalFlip on small known images.
#include "DataTestUtil.h"

#include "cnnc/data/Random.h"
#include "cnnc/data/ResizeTransforms.h"
#include "cnnc/data/Transforms.h"

#include <set>
#include <utility>

namespace cnnc::rt::data {
namespace {

using namespace test;

// Runs `t` on `in` of shape `shape`; the output is sized by outputShape.
std::vector<float> run(const Transform &t, const std::vector<float> &in,
                       const Shape &shape, std::mt19937_64 &rng) {
  Expected<Shape> out = t.outputShape(shape);
  EXPECT_TRUE(out.ok()) << out.message();
  std::vector<float> result(
      static_cast<size_t>((*out)[0] * (*out)[1] * (*out)[2]), -99.0f);
  t.apply(in.data(), shape, result.data(), rng);
  return result;
}

std::vector<float> iota(size_t n, float start = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = start + static_cast<float>(i);
  return v;
}

TEST(TransformsTest, NormalizePerChannel) {
  auto norm = Normalize::create({0.5f, 0.25f}, {0.5f, 2.0f});
  ASSERT_TRUE(norm.ok()) << norm.message();
  std::mt19937_64 rng(1);
  // Two channels of 1x2.
  std::vector<float> out =
      run(**norm, {0.0f, 1.0f, 0.25f, 4.25f}, {2, 1, 2}, rng);
  EXPECT_EQ(out, (std::vector<float>{-1.0f, 1.0f, 0.0f, 2.0f}));
  // Values that do not divide exactly: computed in float as torch does.
  out = run(**norm, {0.3f, 0.7f, 0.1f, 0.9f}, {2, 1, 2}, rng);
  EXPECT_EQ(out[0], (0.3f - 0.5f) / 0.5f);
  EXPECT_EQ(out[3], (0.9f - 0.25f) / 2.0f);
  EXPECT_EQ((*norm)->describe(), "Normalize(mean=[0.5, 0.25], std=[0.5, 2])");
}

TEST(TransformsTest, NormalizeOneValueForAllChannels) {
  auto norm = Normalize::create({0.5f}, {0.25f});
  ASSERT_TRUE(norm.ok());
  std::mt19937_64 rng(1);
  EXPECT_EQ(run(**norm, {0.0f, 0.75f, 1.0f}, {3, 1, 1}, rng),
            (std::vector<float>{-2.0f, 1.0f, 2.0f}));
}

TEST(TransformsTest, NormalizeRejectsBadArguments) {
  EXPECT_ERROR_CONTAINS(Normalize::create({0.5f}, {0.0f}), "std 0 is zero");
  EXPECT_ERROR_CONTAINS(Normalize::create({0.5f, 0.5f}, {1.0f}),
                        "mean and std need the same number of values");
  EXPECT_ERROR_CONTAINS(Normalize::create({}, {}), "at least one");
  auto norm = Normalize::create({0.1f, 0.2f, 0.3f}, {1.0f, 1.0f, 1.0f});
  ASSERT_TRUE(norm.ok());
  EXPECT_ERROR_CONTAINS((*norm)->outputShape({1, 28, 28}),
                        "3 values for images of 1 channels");
  EXPECT_ERROR_CONTAINS((*norm)->outputShape({28, 28}),
                        "expects an image [C, H, W]");
}

// Pixel (c, y, x) of the image padded by p on every side.
float padded(const std::vector<float> &img, int64_t h, int64_t w, int64_t p,
             int64_t c, int64_t y, int64_t x) {
  y -= p;
  x -= p;
  if (y < 0 || y >= h || x < 0 || x >= w)
    return 0.0f;
  return img[static_cast<size_t>((c * h + y) * w + x)];
}

TEST(TransformsTest, RandomCropWithPaddingIsAWindowOfThePaddedImage) {
  // 2 channels of 3x4 with non-zero pixels, cropped to 3x4 with padding 2:
  // the window's corner ranges over 5 x 5 positions.
  const int64_t C = 2, H = 3, W = 4, P = 2;
  std::vector<float> img = iota(C * H * W);
  auto crop = RandomCrop::create(H, W, P);
  ASSERT_TRUE(crop.ok());
  EXPECT_EQ((*crop)->describe(), "RandomCrop((3, 4), padding=2)");
  std::set<std::pair<int64_t, int64_t>> corners;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> out = run(**crop, img, {C, H, W}, rng);
    // Find the corner(s) the output is a window at; exactly one must match
    // (pixels are distinct and non-zero).
    std::vector<std::pair<int64_t, int64_t>> matches;
    for (int64_t i = 0; i <= 2 * P; ++i)
      for (int64_t j = 0; j <= 2 * P; ++j) {
        bool same = true;
        for (int64_t c = 0; c < C && same; ++c)
          for (int64_t y = 0; y < H && same; ++y)
            for (int64_t x = 0; x < W && same; ++x)
              same = out[static_cast<size_t>((c * H + y) * W + x)] ==
                     padded(img, H, W, P, c, i + y, j + x);
        if (same)
          matches.emplace_back(i, j);
      }
    ASSERT_EQ(matches.size(), 1u) << "seed " << seed;
    corners.insert(matches[0]);
    // Same generator state, same window: deterministic.
    std::mt19937_64 again(seed);
    EXPECT_EQ(run(**crop, img, {C, H, W}, again), out);
  }
  // Every one of the 25 corners occurs over 200 seeds.
  EXPECT_EQ(corners.size(), 25u);
}

TEST(TransformsTest, RandomCropBordersAreZeros) {
  // All-ones 1x2x2 image padded by 1 and cropped 4x4: the crop is the whole
  // padded image, a ring of zeros around the ones.
  auto crop = RandomCrop::create(4, 4, 1);
  ASSERT_TRUE(crop.ok());
  std::mt19937_64 rng(7);
  std::vector<float> out =
      run(**crop, std::vector<float>(4, 1.0f), {1, 2, 2}, rng);
  EXPECT_EQ(out, (std::vector<float>{0, 0, 0, 0, //
                                     0, 1, 1, 0, //
                                     0, 1, 1, 0, //
                                     0, 0, 0, 0}));
}

TEST(TransformsTest, RandomCropWithoutPaddingAndShapes) {
  auto same = RandomCrop::create(3, 3, 0);
  ASSERT_TRUE(same.ok());
  std::mt19937_64 rng(3);
  std::vector<float> img = iota(9);
  EXPECT_EQ(run(**same, img, {1, 3, 3}, rng), img); // full-size crop: identity

  auto small = RandomCrop::create(2, 2, 0);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*(*small)->outputShape({3, 5, 6}), (Shape{3, 2, 2}));
  EXPECT_ERROR_CONTAINS(
      (*small)->outputShape({1, 1, 5}),
      "RandomCrop(2, padding=0): the crop is larger than the padded image "
      "(1x5)");
  EXPECT_ERROR_CONTAINS(RandomCrop::create(0, 3, 1),
                        "the size must be positive");
  EXPECT_ERROR_CONTAINS(RandomCrop::create(3, 3, -1), "padding non-negative");
}

TEST(TransformsTest, FlipMirrorsEveryRow) {
  auto flip = RandomHorizontalFlip::create(1.0);
  ASSERT_TRUE(flip.ok());
  std::mt19937_64 rng(5);
  // 2 channels of 2x3.
  EXPECT_EQ(run(**flip, iota(12), {2, 2, 3}, rng),
            (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}));
  auto never = RandomHorizontalFlip::create(0.0);
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(run(**never, iota(12), {2, 2, 3}, rng), iota(12));
  EXPECT_ERROR_CONTAINS(RandomHorizontalFlip::create(1.5),
                        "p must be a probability");
}

TEST(TransformsTest, FlipWithHalfProbabilityFlipsAboutHalf) {
  auto flip = RandomHorizontalFlip::create();
  ASSERT_TRUE(flip.ok());
  EXPECT_EQ((*flip)->describe(), "RandomHorizontalFlip(p=0.5)");
  std::mt19937_64 rng(11);
  int flipped = 0;
  for (int k = 0; k < 1000; ++k)
    flipped += run(**flip, {1, 2}, {1, 1, 2}, rng)[0] == 2.0f;
  EXPECT_GT(flipped, 430);
  EXPECT_LT(flipped, 570);
}

// The loader seeds a generator per image only for transforms that draw
// from it: a random transform saying otherwise would repeat its draws.
TEST(TransformsTest, OnlyRandomTransformsDrawRandomNumbers) {
  EXPECT_FALSE((*Normalize::create({0.5f}, {0.25f}))->drawsRandomNumbers());
  EXPECT_FALSE((*Resize::exactly(4, 4))->drawsRandomNumbers());
  EXPECT_FALSE((*CenterCrop::create(2, 2))->drawsRandomNumbers());
  EXPECT_TRUE((*RandomCrop::create(2, 2, 1))->drawsRandomNumbers());
  EXPECT_TRUE((*RandomHorizontalFlip::create())->drawsRandomNumbers());
  EXPECT_TRUE((*RandomResizedCrop::create(4, 4, ResizedCropRange{}))
                  ->drawsRandomNumbers());
}

// Planes longer than a vector, with a tail: the vectorised loop's float
// arithmetic is torchvision's, element by element.
TEST(TransformsTest, NormalizeLongPlanesExactly) {
  Shape s{2, 7, 9};
  std::vector<float> in(126), out(126);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<float>(i % 251) / 255.0f;
  std::mt19937_64 rng(1);
  (*Normalize::create({0.4f, 0.2f}, {0.3f, 0.7f}))
      ->apply(in.data(), s, out.data(), rng);
  for (size_t i = 0; i < in.size(); ++i) {
    const float m = i < 63 ? 0.4f : 0.2f, sd = i < 63 ? 0.3f : 0.7f;
    EXPECT_EQ(out[i], (in[i] - m) / sd) << i;
  }
}

TEST(TransformsTest, ShapeThroughAPipeline) {
  TransformList list = {*RandomCrop::create(2, 2, 1),
                        *RandomHorizontalFlip::create(),
                        *Normalize::create({0.5f}, {0.5f})};
  EXPECT_EQ(*transformedShape(list, {3, 4, 4}), (Shape{3, 2, 2}));
  list.push_back(*Normalize::create({0.1f, 0.2f}, {1.0f, 1.0f}));
  EXPECT_ERROR_CONTAINS(transformedShape(list, {3, 4, 4}),
                        "2 values for images of 3");
}

TEST(RandomTest, UniformBelowAndShuffleAreUnbiasedEnoughAndPortable) {
  std::mt19937_64 rng(42);
  int counts[3] = {0, 0, 0};
  for (int k = 0; k < 3000; ++k)
    ++counts[uniformBelow(rng, 3)];
  for (int c : counts) {
    EXPECT_GT(c, 900);
    EXPECT_LT(c, 1100);
  }
  std::vector<int64_t> v = {0, 1, 2, 3, 4, 5, 6, 7};
  std::mt19937_64 a(9), b(9);
  shuffle(v, a);
  std::vector<int64_t> w = {0, 1, 2, 3, 4, 5, 6, 7};
  shuffle(w, b);
  EXPECT_EQ(v, w);
  EXPECT_NE(v, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  std::multiset<int64_t> elems(v.begin(), v.end());
  EXPECT_EQ(elems, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // Fixed definitions: these values must not change between platforms or
  // releases, or a seed would no longer reproduce a run (mixSeed checked
  // against an independent Python splitmix64).
  EXPECT_EQ(mixSeed(1, 2, 3), 15020427595393229491ull);
  EXPECT_EQ(v, (std::vector<int64_t>{0, 6, 5, 1, 4, 3, 2, 7}));
  std::mt19937_64 c(9);
  EXPECT_EQ(uniformBelow(c, 1000003), 692236u);
  double u = uniformUnit(rng);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

} // namespace
} // namespace cnnc::rt::data
