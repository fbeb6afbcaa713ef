#include "cnnc/data/DataLoader.h"

#include "cnnc/data/Random.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace cnnc::rt::data {

namespace {

// Separate streams, so shuffling and augmentation never share draws.
const uint64_t kShuffleStream = 0x53485546464c45ull; // "SHUFFLE"
const uint64_t kAugmentStream = 0x4155474d454e54ull; // "AUGMENT"

int64_t numElements(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

} // namespace

Expected<DataLoader> DataLoader::create(std::shared_ptr<const Dataset> dataset,
                                        LoaderOptions options, TransformList transforms) {
  if (!dataset)
    return Error("DataLoader: no dataset");
  Status valid = validateDataset(*dataset);
  if (!valid)
    return valid;
  if (options.batchSize < 1)
    return Error("the batch size must be at least 1, got " +
                 std::to_string(options.batchSize));
  for (const auto &t : transforms)
    if (!t)
      return Error("DataLoader: a transform is null");
  std::vector<Shape> shapes = {dataset->imageShape()};
  for (const auto &t : transforms) {
    Expected<Shape> next = t->outputShape(shapes.back());
    if (!next)
      return Error(dataset->imagesSource + ": " + next.message());
    shapes.push_back(std::move(*next));
  }
  return DataLoader(std::move(dataset), options, std::move(transforms), std::move(shapes));
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
                       TransformList transforms, std::vector<Shape> stageShapes)
    : dataset_(std::move(dataset)), options_(options), transforms_(std::move(transforms)),
      stageShapes_(std::move(stageShapes)) {
  setEpoch(0);
}

int64_t DataLoader::numBatches() const {
  int64_t n = numSamples(), b = options_.batchSize;
  return options_.dropLast ? n / b : (n + b - 1) / b;
}

void DataLoader::setEpoch(int64_t epoch) {
  epoch_ = epoch;
  order_.resize(static_cast<size_t>(numSamples()));
  // From the identity each time: epoch e does not depend on earlier epochs.
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.shuffle) {
    std::mt19937_64 rng(mixSeed(options_.seed ^ kShuffleStream,
                                static_cast<uint64_t>(epoch), 0));
    shuffle(order_, rng);
  }
}

Status DataLoader::getBatch(int64_t b, Batch &out) const {
  if (b < 0 || b >= numBatches())
    return Error("batch " + std::to_string(b) + " does not exist: the epoch has " +
                 std::to_string(numBatches()));
  const int64_t first = b * options_.batchSize;
  const int64_t count = std::min(options_.batchSize, numSamples() - first);
  const Shape &sample = sampleShape();
  const Shape batchShape = {count, sample[0], sample[1], sample[2]};
  if (out.images.dtype() != DType::F32 || out.images.shape() != batchShape)
    out.images = Tensor(DType::F32, batchShape);
  if (out.labels.dtype() != DType::I64 || out.labels.shape() != Shape{count})
    out.labels = Tensor(DType::I64, {count});
  out.indices.assign(order_.begin() + first, order_.begin() + first + count);

  const int64_t outSize = numElements(sample);
  // Ping-pong buffers between transforms, each large enough for any stage.
  std::vector<float> bufA, bufB;
  if (transforms_.size() > 1) {
    int64_t scratch = 0;
    for (const Shape &s : stageShapes_)
      scratch = std::max(scratch, numElements(s));
    bufA.resize(static_cast<size_t>(scratch));
    bufB.resize(static_cast<size_t>(scratch));
  }

  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = out.indices[static_cast<size_t>(k)];
    out.labels.i64()[k] = dataset_->label(index);
    float *dst = out.images.f32() + k * outSize;
    if (transforms_.empty()) {
      std::memcpy(dst, dataset_->image(index), static_cast<size_t>(outSize) * sizeof(float));
      continue;
    }
    std::mt19937_64 rng(mixSeed(options_.seed ^ kAugmentStream,
                                static_cast<uint64_t>(epoch_), static_cast<uint64_t>(index)));
    const float *src = dataset_->image(index);
    for (size_t t = 0; t < transforms_.size(); ++t) {
      const bool last = t + 1 == transforms_.size();
      float *target = last ? dst : (src == bufA.data() ? bufB.data() : bufA.data());
      transforms_[t]->apply(src, stageShapes_[t], target, rng);
      src = target;
    }
  }
  return Status::success();
}

} // namespace cnnc::rt::data
