#include "cnnc/data/ResizeTransforms.h"

#include "cnnc/data/Random.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace cnnc::rt::data {

namespace {

Status checkImage(const Shape &in, const std::string &who) {
  if (in.size() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
    return Error(who + ": expects an image [C, H, W], got " +
                 shapeToString(in));
  return Status::success();
}

std::string sizeText(int64_t height, int64_t width) {
  return height == width ? std::to_string(height)
                         : "(" + std::to_string(height) + ", " +
                               std::to_string(width) + ")";
}

// Python's round() of a double: half to even (the default rounding mode).
int64_t roundHalfEven(double v) {
  return static_cast<int64_t>(std::nearbyint(v));
}

// round((size - crop) / 2.0) in Python, for size >= crop.
int64_t centeredOffset(int64_t size, int64_t crop) {
  const int64_t d = size - crop, q = d / 2;
  return d % 2 == 0 || q % 2 == 0 ? q : q + 1;
}

// CropDraws from the loader's per-sample generator.
class GeneratorDraws : public CropDraws {
public:
  explicit GeneratorDraws(std::mt19937_64 &rng) : rng_(rng) {}
  float uniform(double lo, double hi) override {
    return static_cast<float>(lo + (hi - lo) * uniformUnit(rng_));
  }
  int64_t below(int64_t n) override {
    return static_cast<int64_t>(uniformBelow(rng_, static_cast<uint64_t>(n)));
  }

private:
  std::mt19937_64 &rng_;
};

} // namespace

// --- Resize ------------------------------------------------------------------

Expected<std::shared_ptr<const Resize>> Resize::shorterSide(int64_t size) {
  if (size < 1)
    return Error("Resize(" + std::to_string(size) +
                 "): the size must be positive");
  return std::shared_ptr<const Resize>(new Resize(size, 0));
}

Expected<std::shared_ptr<const Resize>> Resize::exactly(int64_t height,
                                                        int64_t width) {
  if (height < 1 || width < 1)
    return Error("Resize(" + sizeText(height, width) +
                 "): the size must be positive");
  return std::shared_ptr<const Resize>(new Resize(height, width));
}

std::string Resize::describe() const {
  return "Resize(" +
         (width_ == 0 ? std::to_string(height_)
                      : "(" + std::to_string(height_) + ", " +
                            std::to_string(width_) + ")") +
         ")";
}

Expected<Shape> Resize::outputShape(const Shape &in) const {
  if (Status ok = checkImage(in, describe()); !ok)
    return ok;
  if (width_ != 0)
    return Shape{in[0], height_, width_};
  // torchvision's _compute_resized_output_size: int(size * long / short).
  const int64_t h = in[1], w = in[2];
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  const int64_t newLong = static_cast<int64_t>(
      static_cast<double>(height_ * longer) / static_cast<double>(shorter));
  return w <= h ? Shape{in[0], newLong, height_}
                : Shape{in[0], height_, newLong};
}

void Resize::apply(const float *in, const Shape &s, float *out,
                   std::mt19937_64 &) const {
  const Shape o = *outputShape(s);
  if (o == s) {
    std::memcpy(out, in,
                static_cast<size_t>(s[0] * s[1] * s[2]) * sizeof(float));
    return;
  }
  resampleBilinear(in, s[0], s[1], s[2], PixelBox{0, 0, s[1], s[2]}, out, o[1],
                   o[2]);
}

// --- CenterCrop --------------------------------------------------------------

Expected<std::shared_ptr<const CenterCrop>> CenterCrop::create(int64_t height,
                                                               int64_t width) {
  if (height < 1 || width < 1)
    return Error("CenterCrop(" + sizeText(height, width) +
                 "): the size must be positive");
  return std::shared_ptr<const CenterCrop>(new CenterCrop(height, width));
}

std::string CenterCrop::describe() const {
  return "CenterCrop(" + sizeText(height_, width_) + ")";
}

Expected<Shape> CenterCrop::outputShape(const Shape &in) const {
  if (Status ok = checkImage(in, describe()); !ok)
    return ok;
  return Shape{in[0], height_, width_};
}

void CenterCrop::apply(const float *in, const Shape &s, float *out,
                       std::mt19937_64 &) const {
  const int64_t h = s[1], w = s[2];
  // Source row of output row 0: negative when torchvision pads first.
  const int64_t top =
      height_ > h ? -((height_ - h) / 2) : centeredOffset(h, height_);
  const int64_t left =
      width_ > w ? -((width_ - w) / 2) : centeredOffset(w, width_);
  const int64_t x0 = std::clamp<int64_t>(-left, 0, width_);
  const int64_t x1 = std::clamp<int64_t>(w - left, 0, width_);
  for (int64_t c = 0; c < s[0]; ++c)
    for (int64_t y = 0; y < height_; ++y) {
      float *row = out + (c * height_ + y) * width_;
      const int64_t sy = top + y;
      std::fill(row, row + width_, 0.0f);
      if (sy < 0 || sy >= h || x1 <= x0)
        continue;
      std::memcpy(row + x0, in + (c * h + sy) * w + left + x0,
                  static_cast<size_t>(x1 - x0) * sizeof(float));
    }
}

// --- RandomResizedCrop -------------------------------------------------------

PixelBox sampleResizedCropBox(int64_t height, int64_t width,
                              const ResizedCropRange &r, CropDraws &draws) {
  const double area = static_cast<double>(height * width);
  // torch.log(torch.tensor(ratio)): float32.
  const float logMin = std::log(static_cast<float>(r.ratioMin));
  const float logMax = std::log(static_cast<float>(r.ratioMax));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double targetArea =
        area * static_cast<double>(draws.uniform(r.scaleMin, r.scaleMax));
    const double aspect =
        static_cast<double>(std::exp(draws.uniform(logMin, logMax)));
    const int64_t w = roundHalfEven(std::sqrt(targetArea * aspect));
    const int64_t h = roundHalfEven(std::sqrt(targetArea / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = draws.below(height - h + 1);
      const int64_t left = draws.below(width - w + 1);
      return {top, left, h, w};
    }
  }
  // The central fallback crop.
  const double inRatio =
      static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (inRatio < r.ratioMin)
    h = roundHalfEven(static_cast<double>(w) / r.ratioMin);
  else if (inRatio > r.ratioMax)
    w = roundHalfEven(static_cast<double>(h) * r.ratioMax);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Expected<std::shared_ptr<const RandomResizedCrop>>
RandomResizedCrop::create(int64_t height, int64_t width,
                          const ResizedCropRange &r) {
  std::shared_ptr<const RandomResizedCrop> crop(
      new RandomResizedCrop(height, width, r));
  if (height < 1 || width < 1)
    return Error(crop->describe() + ": the size must be positive");
  if (!(r.scaleMin > 0 && r.scaleMin <= r.scaleMax && r.scaleMax <= 1))
    return Error(crop->describe() +
                 ": the scale range must satisfy 0 < min <= max <= 1");
  if (!(r.ratioMin > 0 && r.ratioMin <= r.ratioMax &&
        std::isfinite(r.ratioMax)))
    return Error(crop->describe() +
                 ": the ratio range must satisfy 0 < min <= max");
  return crop;
}

std::string RandomResizedCrop::describe() const {
  std::ostringstream os;
  os << "RandomResizedCrop(" << sizeText(height_, width_) << ", scale=("
     << range_.scaleMin << ", " << range_.scaleMax << "), ratio=("
     << range_.ratioMin << ", " << range_.ratioMax << "))";
  return os.str();
}

Expected<Shape> RandomResizedCrop::outputShape(const Shape &in) const {
  if (Status ok = checkImage(in, describe()); !ok)
    return ok;
  return Shape{in[0], height_, width_};
}

void RandomResizedCrop::apply(const float *in, const Shape &s, float *out,
                              std::mt19937_64 &rng) const {
  GeneratorDraws draws(rng);
  const PixelBox box = sampleResizedCropBox(s[1], s[2], range_, draws);
  resampleBilinear(in, s[0], s[1], s[2], box, out, height_, width_);
}

} // namespace cnnc::rt::data
