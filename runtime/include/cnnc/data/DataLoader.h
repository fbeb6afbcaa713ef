// Batches of a Dataset for training and evaluation, like torch's DataLoader:
// an optional shuffle per epoch, per-sample transforms, the last partial batch
// kept unless dropLast. Images kept in files (folder:) are decoded batch by
// batch; images of different sizes must leave the transforms at one size.
//
// Everything random is a function of (seed, epoch) only: the order of epoch e
// is the same whether or not epochs 0..e-1 ran, so a run resumed at epoch e
// sees what an uninterrupted one would. Augmentation of a sample depends on
// (seed, epoch, sample index) alone, not on the batch size or position.
#ifndef CNNC_DATA_DATALOADER_H
#define CNNC_DATA_DATALOADER_H

#include "cnnc/Error.h"
#include "cnnc/Tensor.h"
#include "cnnc/data/Dataset.h"
#include "cnnc/data/Transforms.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace cnnc::rt::data {

struct LoaderOptions {
  int64_t batchSize = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  bool dropLast = false; // true: skip a last batch smaller than batchSize
  // The dataset indices to serve, in this order before any shuffle (one
  // side of a validation split); empty: every sample.
  std::vector<int64_t> subset;
  // Data parallelism, as torch's DistributedSampler shards: batch b is
  // slice `shard` of `shards` of the global batch b (batchSize samples of
  // the one global order), the slices of a full batch all batchSize /
  // shards long; those of a last partial batch differ by at most one, and
  // may be empty.
  int64_t shards = 1;
  int64_t shard = 0;
};

struct Batch {
  Tensor images; // F32 [B, C, H, W] (C, H, W after the transforms)
  Tensor labels; // I64 [B]
  std::vector<int64_t> indices; // the samples' indices in the dataset
  // A shard's slice: the position of its first sample in the global batch
  // (0 without shards).
  int64_t firstInGlobalBatch = 0;
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

class DataLoader {
public:
  // Checks the dataset, batchSize >= 1, the subset's indices and that the
  // transforms fit its images and bring them all to one shape (the error
  // names two files that end at different sizes).
  static Expected<DataLoader> create(std::shared_ptr<const Dataset> dataset,
                                     LoaderOptions options,
                                     TransformList transforms = {});

  const Dataset &dataset() const { return *dataset_; }
  const LoaderOptions &options() const { return options_; }
  int64_t numSamples() const { return static_cast<int64_t>(samples_.size()); }
  // ceil(N / B), or floor(N / B) with dropLast.
  int64_t numBatches() const;
  // [C, H, W] of a sample after the transforms: what the network must take.
  const Shape &sampleShape() const { return sampleShape_; }

  // Selects the epoch (0 at creation): its order, and its augmentation draws.
  void setEpoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  // The dataset indices in this epoch's order.
  const std::vector<int64_t> &order() const { return order_; }

  // Fills `out` with batch `b` of the current epoch (this shard's slice of
  // it), 0 <= b < numBatches(),
  // reusing its storage when the size allows. Batches are independent:
  // any order, any number of times, same result. An image file that cannot
  // be decoded is an error naming it.
  Status getBatch(int64_t b, Batch &out) const;

private:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
             TransformList transforms, std::vector<int64_t> samples,
             std::vector<Shape> stageShapes);

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  TransformList transforms_;
  std::vector<int64_t> samples_; // options_.subset, or every index
  // Images in memory: the image shape before each transform, then after the
  // last one. In files: empty (each image has its own).
  std::vector<Shape> stageShapes_;
  Shape sampleShape_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
};

} // namespace cnnc::rt::data

#endif // CNNC_DATA_DATALOADER_H
