#include "cnnc/data/NpyDataset.h"

#include "cnnc/Npy.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cnnc::rt::data {

Expected<Dataset> loadNpyDataset(const std::string &imagesPath,
                                 const std::string &labelsPath,
                                 int64_t numClasses) {
  Expected<Tensor> images = readNpy(imagesPath);
  if (!images)
    return images.error();
  if (images->dtype() != DType::F32)
    return Error(imagesPath + ": images must be float32, got " +
                 dtypeName(images->dtype()) +
                 " (save them with x.astype(numpy.float32))");
  const Shape &s = images->shape();
  if (s.size() != 3 && s.size() != 4)
    return Error(imagesPath +
                 ": images must be [N, C, H, W] or [N, H, W], got " +
                 shapeToString(s));
  if (s[0] == 0)
    return Error(imagesPath + ": holds no images (shape " + shapeToString(s) +
                 ")");
  for (int64_t dim : s)
    if (dim == 0)
      return Error(imagesPath +
                   ": images have an empty dimension: " + shapeToString(s));
  const float *pixels = std::as_const(*images).f32();
  for (int64_t i = 0, e = images->numElements(); i < e; ++i)
    if (!std::isfinite(pixels[i])) {
      int64_t perImage = e / s[0];
      return Error(imagesPath + ": image " + std::to_string(i / perImage) +
                   " holds " + (std::isnan(pixels[i]) ? "NaN" : "an infinity") +
                   " at element " + std::to_string(i % perImage));
    }

  Expected<Tensor> labels = readNpy(labelsPath);
  if (!labels) {
    // parseNpy reads float32 and int64 only; say what to do with int32/uint8
    // labels.
    if (labels.message().find("unsupported dtype") != std::string::npos)
      return Error(labels.message() +
                   "; save the labels as int64: labels.astype(numpy.int64)");
    return labels.error();
  }
  if (labels->dtype() != DType::I64)
    return Error(labelsPath + ": labels must be int64, got " +
                 dtypeName(labels->dtype()) +
                 " (save them with labels.astype(numpy.int64))");
  if (labels->rank() != 1)
    return Error(labelsPath + ": labels must be [N], got " +
                 shapeToString(labels->shape()));
  if (labels->shape()[0] != s[0])
    return Error(labelsPath + ": " + std::to_string(labels->shape()[0]) +
                 " labels but " + imagesPath + " holds " +
                 std::to_string(s[0]) + " images");

  int64_t maxLabel = 0;
  for (int64_t i = 0; i < s[0]; ++i) {
    int64_t label = std::as_const(*labels).i64()[i];
    if (label < 0 || (numClasses > 0 && label >= numClasses))
      return Error(labelsPath + ": label " + std::to_string(label) +
                   " at index " + std::to_string(i) + " is out of range" +
                   (numClasses > 0
                        ? " for " + std::to_string(numClasses) + " classes"
                        : std::string(" (labels must be >= 0)")));
    maxLabel = std::max(maxLabel, label);
  }

  Dataset d;
  d.imagesSource = imagesPath;
  d.labelsSource = labelsPath;
  d.numClasses = numClasses > 0 ? numClasses : maxLabel + 1;
  // [N, H, W] -> [N, 1, H, W]: same bytes, one more dimension.
  if (s.size() == 3)
    if (Status reshaped = images->reshape({s[0], 1, s[1], s[2]}, imagesPath);
        !reshaped)
      return reshaped.error();
  d.images = std::move(*images);
  d.labels = std::move(*labels);
  return d;
}

} // namespace cnnc::rt::data
