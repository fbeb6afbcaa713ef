// Per-sample image transforms with torchvision's semantics, applied to one
// float32 image [C, H, W] at a time. Random ones draw from the generator they
// are given, so a seeded generator makes them deterministic.
//
// Order matters as in torchvision: RandomCrop pads with zeros of the values it
// sees, so put Normalize last to pad with black like
// Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
// Normalize(...)]).
#ifndef CNNC_DATA_TRANSFORMS_H
#define CNNC_DATA_TRANSFORMS_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace cnnc::rt::data {

class Transform {
public:
  virtual ~Transform() = default;
  // "RandomCrop(32, padding=4)", for logs.
  virtual std::string describe() const = 0;
  // The shape of the result for an input of shape `in` ([C, H, W]), or an
  // error when the transform does not fit it (wrong channel count, crop
  // larger than the padded image).
  virtual Expected<Shape> outputShape(const Shape &in) const = 0;
  // Writes the transformed `in` (of shape `inShape`, accepted by
  // outputShape) to `out`, which holds outputShape(inShape) elements and does
  // not overlap `in`.
  virtual void apply(const float *in, const Shape &inShape, float *out,
                     std::mt19937_64 &rng) const = 0;
  // Whether apply draws from `rng`: the loader seeds a generator per image
  // only when some transform does (seeding one costs about a microsecond).
  // True unless a transform says otherwise.
  virtual bool drawsRandomNumbers() const { return true; }
};

using TransformList = std::vector<std::shared_ptr<const Transform>>;

// out[c] = (in[c] - mean[c]) / std[c], in float like torchvision's Normalize.
// mean and std hold one value per channel, or one value for every channel.
class Normalize : public Transform {
public:
  static Expected<std::shared_ptr<const Normalize>>
  create(std::vector<float> mean, std::vector<float> std);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;
  bool drawsRandomNumbers() const override { return false; }

private:
  Normalize(std::vector<float> mean, std::vector<float> std)
      : mean_(std::move(mean)), std_(std::move(std)) {}
  std::vector<float> mean_, std_;
};

// torchvision RandomCrop(size=(height, width), padding, fill=0): pads every
// side with `padding` zeros, then takes a height x width window whose top-left
// corner (i, j) is uniform over the valid positions (i drawn before j).
class RandomCrop : public Transform {
public:
  static Expected<std::shared_ptr<const RandomCrop>>
  create(int64_t height, int64_t width, int64_t padding = 0);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;

private:
  RandomCrop(int64_t height, int64_t width, int64_t padding)
      : height_(height), width_(width), padding_(padding) {}
  int64_t height_, width_, padding_;
};

// torchvision RandomHorizontalFlip(p): mirrors the columns with probability p.
class RandomHorizontalFlip : public Transform {
public:
  static Expected<std::shared_ptr<const RandomHorizontalFlip>>
  create(double p = 0.5);
  std::string describe() const override;
  Expected<Shape> outputShape(const Shape &in) const override;
  void apply(const float *in, const Shape &inShape, float *out,
             std::mt19937_64 &rng) const override;

private:
  explicit RandomHorizontalFlip(double p) : p_(p) {}
  double p_;
};

// The shape after every transform in turn, or the first error, naming the
// transform.
Expected<Shape> transformedShape(const TransformList &transforms,
                                 const Shape &in);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_TRANSFORMS_H
