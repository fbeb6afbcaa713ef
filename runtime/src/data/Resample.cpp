#include "cnnc/data/Resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace cnnc::rt::data {

namespace {

// The taps of one output pixel: source indices [first, first + weights.size()).
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// PIL's precompute_coeffs (Resample.c) for a source span of `inSize`
// pixels and the bilinear filter (support 1).
std::vector<Taps> precomputeTaps(int64_t inSize, int64_t outSize) {
  const double scale =
      static_cast<double>(inSize) / static_cast<double>(outSize);
  const double filterScale = std::max(scale, 1.0);
  const double support = 1.0 * filterScale;
  std::vector<Taps> taps(static_cast<size_t>(outSize));
  for (int64_t x = 0; x < outSize; ++x) {
    const double center = (static_cast<double>(x) + 0.5) * scale;
    // PIL rounds with (int)(v + 0.5), truncating toward zero.
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    xmin = std::max<int64_t>(xmin, 0);
    xmax = std::min(xmax, inSize);
    std::vector<double> w;
    double sum = 0.0;
    for (int64_t i = xmin; i < xmax; ++i) {
      w.push_back(
          triangle((static_cast<double>(i) - center + 0.5) / filterScale));
      sum += w.back();
    }
    Taps &t = taps[static_cast<size_t>(x)];
    t.first = xmin;
    for (double v : w)
      t.weights.push_back(static_cast<float>(sum != 0.0 ? v / sum : v));
  }
  return taps;
}

} // namespace

void resampleBilinear(const float *in, int64_t channels, int64_t inHeight,
                      int64_t inWidth, const PixelBox &box, float *out,
                      int64_t outHeight, int64_t outWidth) {
  const bool horizontal = box.width != outWidth;
  const bool vertical = box.height != outHeight;
  // Rows of the box after the horizontal pass: channels x box.height x
  // outWidth.
  std::vector<float> rows(
      static_cast<size_t>(channels * box.height * outWidth));
  const std::vector<Taps> xTaps =
      horizontal ? precomputeTaps(box.width, outWidth) : std::vector<Taps>();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < box.height; ++y) {
      const float *src = in + (c * inHeight + box.top + y) * inWidth + box.left;
      float *dst = rows.data() + (c * box.height + y) * outWidth;
      if (!horizontal) {
        std::memcpy(dst, src, static_cast<size_t>(outWidth) * sizeof(float));
        continue;
      }
      for (int64_t x = 0; x < outWidth; ++x) {
        const Taps &t = xTaps[static_cast<size_t>(x)];
        float sum = 0.0f;
        for (size_t k = 0; k < t.weights.size(); ++k)
          sum += t.weights[k] * src[t.first + static_cast<int64_t>(k)];
        dst[x] = sum;
      }
    }
  if (!vertical) {
    std::memcpy(out, rows.data(), rows.size() * sizeof(float));
    return;
  }
  const std::vector<Taps> yTaps = precomputeTaps(box.height, outHeight);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < outHeight; ++y) {
      const Taps &t = yTaps[static_cast<size_t>(y)];
      float *dst = out + (c * outHeight + y) * outWidth;
      std::fill(dst, dst + outWidth, 0.0f);
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const float w = t.weights[k];
        const float *src =
            rows.data() +
            (c * box.height + t.first + static_cast<int64_t>(k)) * outWidth;
        for (int64_t x = 0; x < outWidth; ++x)
          dst[x] += w * src[x];
      }
    }
}

} // namespace cnnc::rt::data
