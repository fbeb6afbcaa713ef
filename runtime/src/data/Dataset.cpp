#include "cnnc/data/Dataset.h"

#include "VectorClones.h"

#include <cstring>

namespace cnnc::rt::data {

namespace {

// Division, not multiplication by 1/255: the same floats as ToTensor (a
// vectorised division measured faster than a 256-entry table here).
CNNC_VECTOR_CLONES
void bytesToUnitFloats(const uint8_t *in, int64_t count, float *out) {
  for (int64_t k = 0; k < count; ++k)
    out[k] = static_cast<float>(in[k]) / 255.0f;
}

} // namespace

const char *splitName(Split split) {
  return split == Split::Train ? "train" : "test";
}

int64_t Dataset::size() const {
  if (files)
    return static_cast<int64_t>(files->paths.size());
  return images.rank() == 4 ? images.shape()[0] : 0;
}

Shape Dataset::imageShape(int64_t i) const {
  if (files) {
    if (i < 0 || i >= size())
      return {};
    const ImageSize &s = files->sizes[static_cast<size_t>(i)];
    return {3, s.height, s.width};
  }
  if (images.rank() != 4)
    return {};
  return {images.shape()[1], images.shape()[2], images.shape()[3]};
}

void Dataset::copyImage(int64_t i, float *out) const {
  const Shape &s = images.shape();
  const int64_t count = s[1] * s[2] * s[3];
  if (images.dtype() == DType::F32) {
    std::memcpy(out, images.f32() + i * count,
                static_cast<size_t>(count) * sizeof(float));
    return;
  }
  bytesToUnitFloats(images.u8() + i * count, count, out);
}

void Dataset::prefetchImage(int64_t i) const {
  const Shape &s = images.shape();
  const size_t bytes =
      static_cast<size_t>(s[1] * s[2] * s[3]) * dtypeSize(images.dtype());
  const unsigned char *first = images.bytes() + static_cast<size_t>(i) * bytes;
  for (size_t offset = 0; offset < bytes; offset += 64)
    __builtin_prefetch(first + offset);
}

// One file and one positive size per image, nothing in `images`.
static Status validateFiles(const Dataset &d) {
  const std::string &src = d.imagesSource;
  const ImageFiles &f = *d.files;
  if (d.images.numElements() != 0)
    return Error(src + ": images both in memory and in files");
  if (f.paths.empty() || f.paths.size() != f.sizes.size())
    return Error(src + ": " + std::to_string(f.paths.size()) +
                 " image files with " + std::to_string(f.sizes.size()) +
                 " sizes");
  for (size_t i = 0; i < f.sizes.size(); ++i)
    if (f.sizes[i].height < 1 || f.sizes[i].width < 1)
      return Error(f.paths[i] + ": the image has no pixels");
  return Status::success();
}

// Float32 or uint8 [N, C, H, W] with no empty dimension.
static Status validateImagesInMemory(const Dataset &d) {
  const std::string &src = d.imagesSource;
  if ((d.images.dtype() != DType::F32 && d.images.dtype() != DType::U8) ||
      d.images.rank() != 4)
    return Error(src + ": images must be float32 or uint8 [N, C, H, W], got " +
                 dtypeName(d.images.dtype()) + " " +
                 shapeToString(d.images.shape()));
  for (int64_t dim : d.images.shape())
    if (dim < 1)
      return Error(src + ": images have an empty dimension: " +
                   shapeToString(d.images.shape()));
  return Status::success();
}

Status validateDataset(const Dataset &d) {
  if (Status s = d.files ? validateFiles(d) : validateImagesInMemory(d); !s)
    return s;
  const std::string &lsrc = d.labelsSource;
  if (d.labels.dtype() != DType::I64 || d.labels.rank() != 1)
    return Error(lsrc + ": labels must be int64 [N], got " +
                 dtypeName(d.labels.dtype()) + " " +
                 shapeToString(d.labels.shape()));
  if (d.labels.shape()[0] != d.size())
    return Error(lsrc + ": " + std::to_string(d.labels.shape()[0]) +
                 " labels for " + std::to_string(d.size()) + " images in " +
                 d.imagesSource);
  if (d.numClasses < 1)
    return Error(lsrc + ": the dataset has no classes");
  if (!d.classNames.empty() &&
      static_cast<int64_t>(d.classNames.size()) != d.numClasses)
    return Error(lsrc + ": " + std::to_string(d.classNames.size()) +
                 " class names for " + std::to_string(d.numClasses) +
                 " classes");
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t label = d.label(i);
    if (label < 0 || label >= d.numClasses)
      return Error(lsrc + ": label " + std::to_string(label) + " at index " +
                   std::to_string(i) + " is out of range for " +
                   std::to_string(d.numClasses) + " classes");
  }
  return Status::success();
}

Status checkLabels(const Dataset &d, int64_t classes,
                   const std::string &source) {
  if (classes < 1)
    return Error(source + ": the network has " + std::to_string(classes) +
                 " outputs; a classifier needs at least 1");
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t label = d.label(i);
    if (label < 0 || label >= classes)
      return Error(source + ": label " + std::to_string(label) + " at index " +
                   std::to_string(i) + " is out of range for a network with " +
                   std::to_string(classes) + " outputs (labels must be 0.." +
                   std::to_string(classes - 1) + ")");
  }
  return Status::success();
}

Status checkImageShape(const Shape &imageShape, const Shape &networkInput,
                       const std::string &source) {
  Shape net = networkInput;
  // ModelLibrary reports the batch dimension as -1.
  if (net.size() == imageShape.size() + 1 && net[0] == -1)
    net.erase(net.begin());
  if (net == imageShape)
    return Status::success();
  std::string msg = source + ": images are " + shapeToString(imageShape) +
                    " (C, H, W) but the network takes " + shapeToString(net);
  if (net.size() == 3 && imageShape.size() == 3) {
    if (net[0] != imageShape[0])
      msg += " (channels: " + std::to_string(imageShape[0]) + " instead of " +
             std::to_string(net[0]) + ")";
    else
      msg += " (height x width: " + std::to_string(imageShape[1]) + "x" +
             std::to_string(imageShape[2]) + " instead of " +
             std::to_string(net[1]) + "x" + std::to_string(net[2]) + ")";
  }
  return Error(msg);
}

} // namespace cnnc::rt::data
