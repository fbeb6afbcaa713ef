#include "cnnc/data/DataLoader.h"

#include "cnnc/data/ImageDecode.h"
#include "cnnc/data/Random.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>

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

// The image shape before each transform, then after the last one.
Expected<std::vector<Shape>> stageShapes(const TransformList &transforms,
                                         const Shape &in) {
  std::vector<Shape> shapes = {in};
  for (const auto &t : transforms) {
    Expected<Shape> next = t->outputShape(shapes.back());
    if (!next)
      return next.error();
    shapes.push_back(std::move(*next));
  }
  return shapes;
}

// Image files come in many sizes: each size must pass the transforms, and all
// must end at one shape, which is returned.
Expected<Shape> commonFileShape(const Dataset &dataset,
                                const std::vector<int64_t> &samples,
                                const TransformList &transforms) {
  // The first file of each size, to name in messages.
  std::map<Shape, int64_t> firstOfSize;
  for (int64_t i : samples)
    firstOfSize.emplace(dataset.imageShape(i), i);
  std::optional<std::pair<Shape, int64_t>>
      result; // final shape, from which file
  for (const auto &[in, i] : firstOfSize) {
    const std::string &path = dataset.files->paths[static_cast<size_t>(i)];
    Expected<std::vector<Shape>> shapes = stageShapes(transforms, in);
    if (!shapes)
      return Error(path + ": " + shapes.message());
    const Shape &out = shapes->back();
    if (!result) {
      result = {out, i};
    } else if (out != result->first) {
      const std::string &other =
          dataset.files->paths[static_cast<size_t>(result->second)];
      return Error(
          dataset.imagesSource +
          ": the images do not all reach the network at one "
          "size: " +
          other + " becomes " + shapeToString(result->first) + " but " + path +
          " becomes " + shapeToString(out) +
          "; resize or crop them to one size (e.g. resize and center_crop)");
    }
  }
  return result->first;
}

} // namespace

Expected<DataLoader> DataLoader::create(std::shared_ptr<const Dataset> dataset,
                                        LoaderOptions options,
                                        TransformList transforms) {
  if (!dataset)
    return Error("DataLoader: no dataset");
  Status valid = validateDataset(*dataset);
  if (!valid)
    return valid;
  if (options.batchSize < 1)
    return Error("the batch size must be at least 1, got " +
                 std::to_string(options.batchSize));
  if (options.shards < 1 || options.shard < 0 ||
      options.shard >= options.shards)
    return Error("DataLoader: shard " + std::to_string(options.shard) + " of " +
                 std::to_string(options.shards) + " does not exist");
  for (const auto &t : transforms)
    if (!t)
      return Error("DataLoader: a transform is null");
  std::vector<int64_t> samples = options.subset;
  if (samples.empty()) {
    samples.resize(static_cast<size_t>(dataset->size()));
    std::iota(samples.begin(), samples.end(), int64_t{0});
  }
  for (int64_t i : samples)
    if (i < 0 || i >= dataset->size())
      return Error("DataLoader: sample " + std::to_string(i) +
                   " of the subset is not in " + dataset->imagesSource + " (" +
                   std::to_string(dataset->size()) + " images)");

  if (!dataset->inMemory()) {
    Expected<Shape> shape = commonFileShape(*dataset, samples, transforms);
    if (!shape)
      return shape.error();
    DataLoader loader(std::move(dataset), std::move(options),
                      std::move(transforms), std::move(samples), {});
    loader.sampleShape_ = std::move(*shape);
    return loader;
  }
  Expected<std::vector<Shape>> shapes =
      stageShapes(transforms, dataset->imageShape());
  if (!shapes)
    return Error(dataset->imagesSource + ": " + shapes.message());
  return DataLoader(std::move(dataset), std::move(options),
                    std::move(transforms), std::move(samples),
                    std::move(*shapes));
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset,
                       LoaderOptions options, TransformList transforms,
                       std::vector<int64_t> samples,
                       std::vector<Shape> stageShapes)
    : dataset_(std::move(dataset)), options_(std::move(options)),
      transforms_(std::move(transforms)), samples_(std::move(samples)),
      stageShapes_(std::move(stageShapes)) {
  if (!stageShapes_.empty())
    sampleShape_ = stageShapes_.back();
  setEpoch(0);
}

int64_t DataLoader::numBatches() const {
  int64_t n = numSamples(), b = options_.batchSize;
  return options_.dropLast ? n / b : (n + b - 1) / b;
}

void DataLoader::setEpoch(int64_t epoch) {
  epoch_ = epoch;
  // From the samples each time: epoch e does not depend on earlier epochs.
  order_ = samples_;
  if (options_.shuffle) {
    std::mt19937_64 rng(mixSeed(options_.seed ^ kShuffleStream,
                                static_cast<uint64_t>(epoch), 0));
    shuffle(order_, rng);
  }
}

Status DataLoader::getBatch(int64_t b, Batch &out) const {
  if (b < 0 || b >= numBatches())
    return Error("batch " + std::to_string(b) +
                 " does not exist: the epoch has " +
                 std::to_string(numBatches()));
  const int64_t global = b * options_.batchSize;
  const int64_t globalCount =
      std::min(options_.batchSize, numSamples() - global);
  const int64_t first = global + options_.shard * globalCount / options_.shards;
  const int64_t count =
      global + (options_.shard + 1) * globalCount / options_.shards - first;
  const Shape &sample = sampleShape();
  const Shape batchShape = {count, sample[0], sample[1], sample[2]};
  if (out.images.dtype() != DType::F32 || out.images.shape() != batchShape)
    out.images = Tensor(DType::F32, batchShape);
  if (out.labels.dtype() != DType::I64 || out.labels.shape() != Shape{count})
    out.labels = Tensor(DType::I64, {count});
  out.indices.assign(order_.begin() + first, order_.begin() + first + count);
  out.firstInGlobalBatch = first - global;

  const int64_t outSize = numElements(sample);
  // Ping-pong buffers between transforms, grown to the largest stage.
  std::vector<float> bufA, bufB, decoded;
  std::vector<Shape> fileStages;
  // Each image's augmentation draws from its own seeded generator, the same
  // whatever the batch it lands in.
  const bool seedsPerImage =
      std::any_of(transforms_.begin(), transforms_.end(),
                  [](const auto &t) { return t->drawsRandomNumbers(); });
  std::mt19937_64 rng;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = out.indices[static_cast<size_t>(k)];
    out.labels.i64()[k] = dataset_->label(index);
    float *dst = out.images.f32() + k * outSize;
    const float *src = nullptr;
    const std::vector<Shape> *stages = &stageShapes_;
    if (dataset_->inMemory()) {
      if (k + 1 < count)
        dataset_->prefetchImage(out.indices[static_cast<size_t>(k) + 1]);
      if (transforms_.empty()) {
        dataset_->copyImage(index, dst);
        continue;
      }
      decoded.resize(static_cast<size_t>(numElements(stageShapes_.front())));
      dataset_->copyImage(index, decoded.data());
      src = decoded.data();
    } else {
      const std::string &path =
          dataset_->files->paths[static_cast<size_t>(index)];
      Expected<ImageSize> size = decodeImage(path, decoded);
      if (!size)
        return size.error();
      const Shape listed = dataset_->imageShape(index);
      if (listed != Shape{3, size->height, size->width})
        return Error(path + ": the image changed while in use: it is " +
                     std::to_string(size->height) + "x" +
                     std::to_string(size->width) + " but was " +
                     std::to_string(listed[1]) + "x" +
                     std::to_string(listed[2]) + " when the folder was read");
      Expected<std::vector<Shape>> shapes = stageShapes(transforms_, listed);
      if (!shapes)
        return Error(path + ": " + shapes.message());
      fileStages = std::move(*shapes);
      stages = &fileStages;
      src = decoded.data();
    }
    if (transforms_.empty()) {
      std::memcpy(dst, src, static_cast<size_t>(outSize) * sizeof(float));
      continue;
    }
    int64_t scratch = 0;
    for (const Shape &s : *stages)
      scratch = std::max(scratch, numElements(s));
    if (transforms_.size() > 1 && static_cast<int64_t>(bufA.size()) < scratch) {
      bufA.resize(static_cast<size_t>(scratch));
      bufB.resize(static_cast<size_t>(scratch));
    }
    if (seedsPerImage)
      rng.seed(mixSeed(options_.seed ^ kAugmentStream,
                       static_cast<uint64_t>(epoch_),
                       static_cast<uint64_t>(index)));
    for (size_t t = 0; t < transforms_.size(); ++t) {
      const bool last = t + 1 == transforms_.size();
      float *target =
          last ? dst : (src == bufA.data() ? bufB.data() : bufA.data());
      transforms_[t]->apply(src, (*stages)[t], target, rng);
      src = target;
    }
  }
  return Status::success();
}

} // namespace cnnc::rt::data
