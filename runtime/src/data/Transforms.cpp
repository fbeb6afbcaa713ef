#include "cnnc/data/Transforms.h"

#include "cnnc/data/Random.h"

#include "VectorClones.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace cnnc::rt::data {

namespace {

// out = (in - mean) / std, torchvision's float arithmetic.
CNNC_VECTOR_CLONES
void normalizePlane(const float *in, int64_t count, float mean, float sd,
                    float *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = (in[i] - mean) / sd;
}

std::string floatList(const std::vector<float> &values) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < values.size(); ++i)
    os << (i ? ", " : "") << values[i];
  os << "]";
  return os.str();
}

Status checkImage(const Shape &in, const std::string &who) {
  if (in.size() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
    return Error(who + ": expects an image [C, H, W], got " +
                 shapeToString(in));
  return Status::success();
}

} // namespace

// --- Normalize ---------------------------------------------------------------

Expected<std::shared_ptr<const Normalize>>
Normalize::create(std::vector<float> mean, std::vector<float> std) {
  std::string who =
      "Normalize(mean=" + floatList(mean) + ", std=" + floatList(std) + ")";
  if (mean.empty() || mean.size() != std.size())
    return Error(who +
                 ": mean and std need the same number of values, at least one");
  for (size_t i = 0; i < mean.size(); ++i) {
    if (!std::isfinite(mean[i]) || !std::isfinite(std[i]))
      return Error(who + ": mean and std must be finite");
    // torchvision raises on a zero std: it would divide by zero.
    if (std[i] == 0.0f)
      return Error(who + ": std " + std::to_string(i) + " is zero");
  }
  return std::shared_ptr<const Normalize>(
      new Normalize(std::move(mean), std::move(std)));
}

std::string Normalize::describe() const {
  return "Normalize(mean=" + floatList(mean_) + ", std=" + floatList(std_) +
         ")";
}

Expected<Shape> Normalize::outputShape(const Shape &in) const {
  Status ok = checkImage(in, describe());
  if (!ok)
    return ok;
  if (mean_.size() != 1 && static_cast<int64_t>(mean_.size()) != in[0])
    return Error(describe() + ": " + std::to_string(mean_.size()) +
                 " values for images of " + std::to_string(in[0]) +
                 " channels");
  return in;
}

void Normalize::apply(const float *in, const Shape &s, float *out,
                      std::mt19937_64 &) const {
  int64_t plane = s[1] * s[2];
  for (int64_t c = 0; c < s[0]; ++c) {
    size_t k = mean_.size() == 1 ? 0 : static_cast<size_t>(c);
    normalizePlane(in + c * plane, plane, mean_[k], std_[k], out + c * plane);
  }
}

// --- RandomCrop --------------------------------------------------------------

Expected<std::shared_ptr<const RandomCrop>>
RandomCrop::create(int64_t height, int64_t width, int64_t padding) {
  if (height < 1 || width < 1 || padding < 0)
    return Error("RandomCrop(size=(" + std::to_string(height) + ", " +
                 std::to_string(width) +
                 "), padding=" + std::to_string(padding) +
                 "): the size must be positive and the padding non-negative");
  return std::shared_ptr<const RandomCrop>(
      new RandomCrop(height, width, padding));
}

std::string RandomCrop::describe() const {
  std::string size = height_ == width_ ? std::to_string(height_)
                                       : "(" + std::to_string(height_) + ", " +
                                             std::to_string(width_) + ")";
  return "RandomCrop(" + size + ", padding=" + std::to_string(padding_) + ")";
}

Expected<Shape> RandomCrop::outputShape(const Shape &in) const {
  Status ok = checkImage(in, describe());
  if (!ok)
    return ok;
  if (in[1] + 2 * padding_ < height_ || in[2] + 2 * padding_ < width_)
    return Error(describe() + ": the crop is larger than the padded image (" +
                 std::to_string(in[1] + 2 * padding_) + "x" +
                 std::to_string(in[2] + 2 * padding_) + ")");
  return Shape{in[0], height_, width_};
}

void RandomCrop::apply(const float *in, const Shape &s, float *out,
                       std::mt19937_64 &rng) const {
  const int64_t channels = s[0], h = s[1], w = s[2];
  // Top-left corner of the window in padded coordinates, as torchvision's
  // get_params draws it: i first, then j.
  const int64_t i0 = static_cast<int64_t>(
      uniformBelow(rng, static_cast<uint64_t>(h + 2 * padding_ - height_ + 1)));
  const int64_t j0 = static_cast<int64_t>(
      uniformBelow(rng, static_cast<uint64_t>(w + 2 * padding_ - width_ + 1)));
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < height_; ++y) {
      float *row = out + (c * height_ + y) * width_;
      int64_t sy = i0 + y - padding_; // row in the unpadded image
      if (sy < 0 || sy >= h) {
        std::fill(row, row + width_, 0.0f);
        continue;
      }
      // Columns x with 0 <= j0 + x - padding < w come from the image.
      int64_t x0 = std::clamp<int64_t>(padding_ - j0, 0, width_);
      int64_t x1 = std::clamp<int64_t>(w + padding_ - j0, 0, width_);
      std::fill(row, row + x0, 0.0f);
      if (x1 > x0)
        std::memcpy(row + x0, in + (c * h + sy) * w + (j0 + x0 - padding_),
                    static_cast<size_t>(x1 - x0) * sizeof(float));
      std::fill(row + std::max(x0, x1), row + width_, 0.0f);
    }
}

// --- RandomHorizontalFlip ----------------------------------------------------

Expected<std::shared_ptr<const RandomHorizontalFlip>>
RandomHorizontalFlip::create(double p) {
  if (!(p >= 0.0 && p <= 1.0))
    return Error("RandomHorizontalFlip(p=" + std::to_string(p) +
                 "): p must be a probability in [0, 1]");
  return std::shared_ptr<const RandomHorizontalFlip>(
      new RandomHorizontalFlip(p));
}

std::string RandomHorizontalFlip::describe() const {
  std::ostringstream os;
  os << "RandomHorizontalFlip(p=" << p_ << ")";
  return os.str();
}

Expected<Shape> RandomHorizontalFlip::outputShape(const Shape &in) const {
  Status ok = checkImage(in, describe());
  if (!ok)
    return ok;
  return in;
}

void RandomHorizontalFlip::apply(const float *in, const Shape &s, float *out,
                                 std::mt19937_64 &rng) const {
  const int64_t w = s[2], rows = s[0] * s[1];
  // One draw per image whatever p is, so p does not shift later draws.
  bool flip = uniformUnit(rng) < p_;
  if (!flip) {
    std::memcpy(out, in, static_cast<size_t>(rows * w) * sizeof(float));
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x = 0; x < w; ++x)
      out[r * w + x] = in[r * w + (w - 1 - x)];
}

Expected<Shape> transformedShape(const TransformList &transforms,
                                 const Shape &in) {
  Shape shape = in;
  for (const auto &t : transforms) {
    Expected<Shape> next = t->outputShape(shape);
    if (!next)
      return next;
    shape = std::move(*next);
  }
  return shape;
}

} // namespace cnnc::rt::data
