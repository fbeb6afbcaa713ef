// The transforms that change an image's size, with torchvision 0.14's
// semantics on PIL images (the images folder: gives): Resize, CenterCrop and
// RandomResizedCrop. Resampling is PIL's antialiased bilinear (Resample.h).
#ifndef CNNC_DATA_RESIZETRANSFORMS_H
#define CNNC_DATA_RESIZETRANSFORMS_H

#include "cnnc/data/Resample.h"
#include "cnnc/data/Transforms.h"

namespace cnnc::rt::data {

// torchvision Resize(size) with bilinear interpolation. With `shorterSide`,
// the shorter edge becomes that many pixels and the longer one
// int(size * long / short) (truncated); with (height, width), exactly that.
// An image already at the target size is passed through.
class Resize : public Transform {
public:
  static Expected<std::shared_ptr<const Resize>> shorterSide(int64_t size);
  static Expected<std::shared_ptr<const Resize>> exactly(int64_t height,
                                                         int64_t width);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;
  bool drawsRandomNumbers() const override { return false; }

private:
  Resize(int64_t height, int64_t width) : height_(height), width_(width) {}
  int64_t height_, width_; // width_ == 0: height_ is the shorter side's size
};

// torchvision CenterCrop((height, width)): the window at offset
// round((H - height) / 2) (Python's round, half to even), (W - width) alike;
// an image smaller than the window is first padded with zeros, (d // 2)
// before and the rest after.
class CenterCrop : public Transform {
public:
  static Expected<std::shared_ptr<const CenterCrop>> create(int64_t height,
                                                            int64_t width);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;
  bool drawsRandomNumbers() const override { return false; }

private:
  CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {}
  int64_t height_, width_;
};

// The random draws of torchvision's RandomResizedCrop.get_params, in its order.
class CropDraws {
public:
  virtual ~CropDraws() = default;
  // torch.empty(1).uniform_(lo, hi).item(): a float32 value in [lo, hi].
  virtual float uniform(double lo, double hi) = 0;
  // torch.randint(0, n, (1,)).item(): an integer in [0, n), n >= 1.
  virtual int64_t below(int64_t n) = 0;
};

// The parameters of RandomResizedCrop(size, scale, ratio).
struct ResizedCropRange {
  double scaleMin = 0.08, scaleMax = 1.0;
  double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
};

// torchvision 0.14's RandomResizedCrop.get_params on a height x width image:
// up to 10 attempts of an area fraction uniform in the scale range and an
// aspect ratio log-uniform in the ratio range (both drawn in float32, as
// torch does), rounded half to even; the first box that fits is placed
// uniformly (row, then column). Else the central fallback: the whole image
// clamped to the ratio range.
PixelBox sampleResizedCropBox(int64_t height, int64_t width,
                              const ResizedCropRange &range, CropDraws &draws);

// torchvision RandomResizedCrop((height, width), scale, ratio): a box from
// sampleResizedCropBox, resampled bilinearly to height x width.
class RandomResizedCrop : public Transform {
public:
  // Checks sizes >= 1, 0 < scaleMin <= scaleMax <= 1 and 0 < ratioMin <=
  // ratioMax.
  static Expected<std::shared_ptr<const RandomResizedCrop>>
  create(int64_t height, int64_t width, const ResizedCropRange &range);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;

private:
  RandomResizedCrop(int64_t height, int64_t width,
                    const ResizedCropRange &range)
      : height_(height), width_(width), range_(range) {}
  int64_t height_, width_;
  ResizedCropRange range_;
};

} // namespace cnnc::rt::data

#endif // CNNC_DATA_RESIZETRANSFORMS_H
