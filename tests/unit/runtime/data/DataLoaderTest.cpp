// Batching, shuffling and per-sample transforms.
#include "DataTestUtil.h"

#include "cnnc/data/DataLoader.h"

#include <set>

namespace cnnc::rt::data {
namespace {

using namespace test;

LoaderOptions loaderOptions(int64_t batchSize, bool shuffle = false,
                            uint64_t seed = 0) {
  LoaderOptions options;
  options.batchSize = batchSize;
  options.shuffle = shuffle;
  options.seed = seed;
  return options;
}

DataLoader makeLoader(std::shared_ptr<const Dataset> d, LoaderOptions options,
                      TransformList transforms = {}) {
  Expected<DataLoader> loader =
      DataLoader::create(std::move(d), options, std::move(transforms));
  EXPECT_TRUE(loader.ok()) << loader.message();
  return std::move(loader).value();
}

// All batches of the loader's current epoch.
std::vector<Batch> epochBatches(const DataLoader &loader) {
  std::vector<Batch> batches(static_cast<size_t>(loader.numBatches()));
  for (int64_t b = 0; b < loader.numBatches(); ++b)
    EXPECT_TRUE(loader.getBatch(b, batches[static_cast<size_t>(b)]).ok());
  return batches;
}

std::vector<int64_t> epochOrder(const DataLoader &loader) {
  std::vector<int64_t> order;
  for (const Batch &b : epochBatches(loader))
    order.insert(order.end(), b.indices.begin(), b.indices.end());
  return order;
}

TEST(DataLoaderTest, BatchesHoldTheSamplesTheyName) {
  auto d = syntheticDataset(10, {2, 1, 3}, 3);
  DataLoader loader =
      makeLoader(d, loaderOptions(4, /*shuffle=*/true, /*seed=*/5));
  EXPECT_EQ(loader.numSamples(), 10);
  EXPECT_EQ(loader.numBatches(), 3); // ceil(10 / 4)
  EXPECT_EQ(loader.sampleShape(), (Shape{2, 1, 3}));
  std::vector<Batch> batches = epochBatches(loader);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 4);
  EXPECT_EQ(batches[1].size(), 4);
  EXPECT_EQ(batches[2].size(), 2); // the last, partial batch is kept
  for (const Batch &b : batches) {
    ASSERT_EQ(b.images.shape(), (Shape{b.size(), 2, 1, 3}));
    ASSERT_EQ(b.labels.shape(), (Shape{b.size()}));
    for (int64_t k = 0; k < b.size(); ++k) {
      int64_t index = b.indices[static_cast<size_t>(k)];
      EXPECT_EQ(b.labels.i64()[k], index % 3);
      for (int64_t e = 0; e < 6; ++e)
        EXPECT_EQ(b.images.f32()[k * 6 + e],
                  static_cast<float>(1000 * index + e));
    }
  }
}

TEST(DataLoaderTest, EverySampleOncePerEpoch) {
  auto d = syntheticDataset(23, {1, 2, 2}, 4);
  DataLoader loader = makeLoader(d, loaderOptions(5, true, 1));
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.setEpoch(epoch);
    std::vector<int64_t> order = epochOrder(loader);
    EXPECT_EQ(order, loader.order());
    std::multiset<int64_t> seen(order.begin(), order.end());
    ASSERT_EQ(seen.size(), 23u);
    for (int64_t i = 0; i < 23; ++i)
      EXPECT_EQ(seen.count(i), 1u) << "sample " << i << " in epoch " << epoch;
  }
}

TEST(DataLoaderTest, ShufflesDifferPerEpochAndAreReproducible) {
  auto d = syntheticDataset(50, {1, 1, 1}, 2);
  DataLoader a = makeLoader(d, loaderOptions(8, true, 42));
  std::vector<int64_t> e0 = epochOrder(a);
  a.setEpoch(1);
  std::vector<int64_t> e1 = epochOrder(a);
  EXPECT_NE(e0, e1);
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i)
    identity[static_cast<size_t>(i)] = i;
  EXPECT_NE(e0, identity);

  // Another loader with the same seed: the same orders, epoch 1 first.
  DataLoader b = makeLoader(d, loaderOptions(8, true, 42));
  b.setEpoch(1);
  EXPECT_EQ(epochOrder(b), e1);
  b.setEpoch(0);
  EXPECT_EQ(epochOrder(b), e0);
  // The order does not depend on the batch size.
  DataLoader c = makeLoader(d, loaderOptions(7, true, 42));
  EXPECT_EQ(epochOrder(c), e0);
  // Another seed, another order.
  DataLoader other = makeLoader(d, loaderOptions(8, true, 43));
  EXPECT_NE(epochOrder(other), e0);
  // No shuffle: dataset order, every epoch.
  DataLoader plain = makeLoader(d, loaderOptions(8, false, 42));
  plain.setEpoch(3);
  EXPECT_EQ(epochOrder(plain), identity);
}

TEST(DataLoaderTest, DropLast) {
  auto d = syntheticDataset(10, {1, 1, 1}, 2);
  LoaderOptions options = loaderOptions(4);
  options.dropLast = true;
  DataLoader loader = makeLoader(d, options);
  EXPECT_EQ(loader.numBatches(), 2);
  for (const Batch &b : epochBatches(loader))
    EXPECT_EQ(b.size(), 4);
  // Exact division: nothing dropped either way.
  DataLoader exact =
      makeLoader(syntheticDataset(8, {1, 1, 1}, 2), loaderOptions(4));
  EXPECT_EQ(exact.numBatches(), 2);
  // Batch larger than the dataset: one partial batch.
  DataLoader big = makeLoader(d, loaderOptions(64));
  ASSERT_EQ(big.numBatches(), 1);
  EXPECT_EQ(epochBatches(big)[0].size(), 10);
}

// Data parallelism: shard r of S holds slice r of each global batch, as
// DistributedSampler does; the shards together are the unsharded epoch,
// batch by batch, augmentation included.
TEST(DataLoaderTest, ShardsSliceEachGlobalBatch) {
  auto d = syntheticDataset(23, {1, 4, 4}, 3);
  TransformList t = {*RandomCrop::create(4, 4, 1),
                     *RandomHorizontalFlip::create()};
  DataLoader whole = makeLoader(d, loaderOptions(8, true, 9), t);
  whole.setEpoch(2);
  const std::vector<Batch> wholeBatches = epochBatches(whole);
  for (int64_t shards : {1, 2, 4, 8}) {
    SCOPED_TRACE("shards " + std::to_string(shards));
    std::vector<std::vector<Batch>> parts;
    for (int64_t r = 0; r < shards; ++r) {
      LoaderOptions options = loaderOptions(8, true, 9);
      options.shards = shards;
      options.shard = r;
      DataLoader loader = makeLoader(d, options, t);
      loader.setEpoch(2);
      EXPECT_EQ(loader.numBatches(), 3); // the global batches' count
      parts.push_back(epochBatches(loader));
    }
    for (size_t b = 0; b < wholeBatches.size(); ++b) {
      std::vector<int64_t> indices;
      std::vector<float> pixels;
      for (int64_t r = 0; r < shards; ++r) {
        const Batch &part = parts[size_t(r)][b];
        // Full batches split evenly; the last (7 samples) by at most one.
        EXPECT_LE(part.size(), (wholeBatches[b].size() + shards - 1) / shards);
        EXPECT_GE(part.size(), wholeBatches[b].size() / shards);
        indices.insert(indices.end(), part.indices.begin(), part.indices.end());
        pixels.insert(pixels.end(), part.images.f32(),
                      part.images.f32() + part.images.numElements());
      }
      EXPECT_EQ(indices, wholeBatches[b].indices) << "batch " << b;
      EXPECT_EQ(pixels,
                std::vector<float>(wholeBatches[b].images.f32(),
                                   wholeBatches[b].images.f32() +
                                       wholeBatches[b].images.numElements()))
          << "batch " << b;
    }
  }
  LoaderOptions bad = loaderOptions(8);
  bad.shards = 2;
  bad.shard = 2;
  EXPECT_ERROR_CONTAINS(DataLoader::create(d, bad),
                        "DataLoader: shard 2 of 2 does not exist");
}

TEST(DataLoaderTest, AppliesTransformsInOrder) {
  // Flip always, then normalise with mean 1000, std 2: image i of 1x1x3
  // [1000i, 1000i+1, 1000i+2] becomes [(1000i+2-1000)/2, (1000i+1-1000)/2,
  // ...].
  auto d = syntheticDataset(5, {1, 1, 3}, 2);
  TransformList t = {*RandomHorizontalFlip::create(1.0),
                     *Normalize::create({1000}, {2})};
  DataLoader loader = makeLoader(d, loaderOptions(2, true, 3), t);
  for (const Batch &b : epochBatches(loader))
    for (int64_t k = 0; k < b.size(); ++k) {
      float base = static_cast<float>(1000 * b.indices[static_cast<size_t>(k)]);
      for (int64_t x = 0; x < 3; ++x)
        EXPECT_EQ(b.images.f32()[k * 3 + x],
                  (base + static_cast<float>(2 - x) - 1000) / 2);
    }
}

// Byte images (IDX, CIFAR-10) give the batches their float copies give, with
// and without transforms.
TEST(DataLoaderTest, ByteImagesBatchAsTheirFloats) {
  auto bytes = syntheticDataset(6, {1, 2, 3}, 2);
  auto floats = syntheticDataset(6, {1, 2, 3}, 2);
  bytes->images = Tensor(DType::U8, {6, 1, 2, 3});
  for (int64_t k = 0; k < 36; ++k) {
    bytes->images.u8()[k] = static_cast<uint8_t>((41 * k + 7) % 256);
    floats->images.f32()[k] = static_cast<float>((41 * k + 7) % 256) / 255.0f;
  }
  for (const TransformList &t :
       {TransformList{}, TransformList{*RandomHorizontalFlip::create(),
                                       *Normalize::create({0.3f}, {0.2f})}}) {
    DataLoader fromBytes = makeLoader(bytes, loaderOptions(4, true, 9), t);
    DataLoader fromFloats = makeLoader(floats, loaderOptions(4, true, 9), t);
    std::vector<Batch> a = epochBatches(fromBytes),
                       b = epochBatches(fromFloats);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(cnnc::rt::test::sameTensor(a[i].images, b[i].images)) << i;
  }
}

TEST(DataLoaderTest, AugmentationDependsOnSeedEpochAndSampleOnly) {
  auto d = syntheticDataset(64, {1, 4, 4}, 2);
  TransformList t = {*RandomCrop::create(4, 4, 2),
                     *RandomHorizontalFlip::create()};
  auto sampleImages = [&](int64_t batchSize, int64_t epoch, uint64_t seed) {
    DataLoader loader = makeLoader(d, loaderOptions(batchSize, true, seed), t);
    loader.setEpoch(epoch);
    std::vector<std::vector<float>> bySample(64);
    for (const Batch &b : epochBatches(loader))
      for (int64_t k = 0; k < b.size(); ++k)
        bySample[static_cast<size_t>(b.indices[static_cast<size_t>(k)])].assign(
            b.images.f32() + k * 16, b.images.f32() + (k + 1) * 16);
    return bySample;
  };
  auto base = sampleImages(8, 0, 1);
  EXPECT_EQ(sampleImages(5, 0, 1),
            base); // another batch size: same pixels per sample
  EXPECT_NE(sampleImages(8, 1, 1), base); // another epoch: other draws
  EXPECT_NE(sampleImages(8, 0, 2), base); // another seed: other draws
  // Repeated requests for one batch agree.
  DataLoader loader = makeLoader(d, loaderOptions(8, true, 1), t);
  Batch first, second;
  ASSERT_TRUE(loader.getBatch(3, first).ok());
  ASSERT_TRUE(loader.getBatch(0, second).ok());
  ASSERT_TRUE(loader.getBatch(3, second).ok()); // storage reused
  EXPECT_TRUE(cnnc::rt::test::sameTensor(first.images, second.images));
}

TEST(DataLoaderTest, TransformsChangeTheSampleShape) {
  auto d = syntheticDataset(3, {3, 8, 8}, 2);
  DataLoader loader =
      makeLoader(d, loaderOptions(2), {*RandomCrop::create(5, 6, 0)});
  EXPECT_EQ(loader.sampleShape(), (Shape{3, 5, 6}));
  Batch b;
  ASSERT_TRUE(loader.getBatch(1, b).ok());
  EXPECT_EQ(b.images.shape(), (Shape{1, 3, 5, 6}));
}

TEST(DataLoaderTest, RejectsBadConfigurations) {
  auto d = syntheticDataset(3, {1, 4, 4}, 2);
  EXPECT_ERROR_CONTAINS(DataLoader::create(d, loaderOptions(0)),
                        "the batch size must be at least 1, got 0");
  EXPECT_ERROR_CONTAINS(
      DataLoader::create(d, loaderOptions(1),
                         {*Normalize::create({0, 0, 0}, {1, 1, 1})}),
      "synthetic images: Normalize(mean=[0, 0, 0], std=[1, 1, 1]): 3 values "
      "for images of 1 channels");
  EXPECT_ERROR_CONTAINS(DataLoader::create(nullptr, loaderOptions(1)),
                        "no dataset");
  auto bad = syntheticDataset(3, {1, 4, 4}, 2);
  bad->labels.i64()[1] = 7;
  EXPECT_ERROR_CONTAINS(DataLoader::create(bad, loaderOptions(1)),
                        "label 7 at index 1 is out of range");
  DataLoader loader = makeLoader(d, loaderOptions(2));
  Batch b;
  EXPECT_ERROR_CONTAINS(loader.getBatch(2, b),
                        "batch 2 does not exist: the epoch has 2");
  EXPECT_ERROR_CONTAINS(loader.getBatch(-1, b), "does not exist");
}

} // namespace
} // namespace cnnc::rt::data
