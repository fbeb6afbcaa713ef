// A labelled image classification dataset, its images held in memory or
// left in their files (folder:), and the checks that tie it to a network.
#ifndef CNNC_DATA_DATASET_H
#define CNNC_DATA_DATASET_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"
#include "cnnc/data/ImageDecode.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cnnc::rt::data {

// Which part of a dataset to load. Datasets without splits (npy:) ignore it.
enum class Split { Train, Test };

const char *splitName(Split split); // "train" / "test"

// Images left in their files and decoded when a batch needs them, so a
// large folder is never held decoded in memory. They decode to RGB, [3, H, W].
struct ImageFiles {
  std::vector<std::string> paths;
  std::vector<ImageSize> sizes; // from each file's header, read when listed
};

struct Dataset {
  // [N, C, H, W]: F32 values, or U8 bytes that read as byte / 255 (what
  // torchvision's ToTensor gives), kept as bytes to load a byte-per-pixel
  // file with a quarter of the memory and no float pass over it. Empty when
  // `files` holds the images.
  Tensor images;
  std::shared_ptr<const ImageFiles> files; // null for images in memory
  Tensor labels;                           // I64 [N], each in [0, numClasses)
  int64_t numClasses = 0;
  std::vector<std::string> classNames; // empty, or numClasses names
  // What to name in messages about the images / the labels: a file, or a
  // directory with the files read from it.
  std::string imagesSource;
  std::string labelsSource;

  bool inMemory() const { return !files; }
  int64_t size() const;
  // [C, H, W] of image i; in memory every image has the same shape.
  Shape imageShape(int64_t i = 0) const;
  // Writes image i of images in memory to `out` (imageShape() floats).
  void copyImage(int64_t i, float *out) const;
  // Asks the CPU to start loading image i of images in memory: a shuffled
  // epoch reads them in random order, each from memory (or a mapped file).
  void prefetchImage(int64_t i) const;
  int64_t label(int64_t i) const { return labels.i64()[i]; }
};

// The invariants above: dtypes, ranks (or one file and size per image),
// N >= 1 and equal, labels in
// [0, numClasses), classNames empty or numClasses long. Loaders check them
// before returning; a hand-built Dataset should too.
Status validateDataset(const Dataset &dataset);

// Every label is below `classes`, the number of the network's outputs. The
// error names `source` ("labels.npy: label 12 at index 7 is out of range for
// a network with 10 outputs").
Status checkLabels(const Dataset &dataset, int64_t classes,
                   const std::string &source);

// `imageShape` ([C, H, W], e.g. DataLoader::sampleShape()) equals the
// network's input shape, given as [C, H, W] or as the library reports it,
// [-1, C, H, W]. The error names `source` and says which dimension differs.
Status checkImageShape(const Shape &imageShape, const Shape &networkInput,
                       const std::string &source);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_DATASET_H
