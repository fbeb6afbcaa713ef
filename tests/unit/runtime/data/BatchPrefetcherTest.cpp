// Batches prepared ahead on a producer thread: the same batches, bit for
// bit and in order, as DataLoader::getBatch gives; errors and early exits.
#include "DataTestUtil.h"

#include "cnnc/data/BatchPrefetcher.h"

#include <chrono>
#include <thread>

namespace cnnc::rt::data {
namespace {

using namespace test;

DataLoader shuffledLoader(std::shared_ptr<const Dataset> d, int64_t batchSize,
                          TransformList transforms = {}) {
  LoaderOptions options;
  options.batchSize = batchSize;
  options.shuffle = true;
  options.seed = 7;
  Expected<DataLoader> loader =
      DataLoader::create(std::move(d), options, std::move(transforms));
  EXPECT_TRUE(loader.ok()) << loader.message();
  return std::move(loader).value();
}

TEST(BatchPrefetcherTest, GivesGetBatchsBatchesInOrder) {
  auto d = syntheticDataset(37, {1, 4, 4}, 3);
  TransformList t = {*RandomCrop::create(4, 4, 1),
                     *RandomHorizontalFlip::create(),
                     *Normalize::create({10}, {3})};
  DataLoader loader = shuffledLoader(d, 5, t);
  for (int64_t epoch : {0, 1}) {
    loader.setEpoch(epoch);
    BatchPrefetcher prefetcher(loader);
    for (int64_t b = 0; b < loader.numBatches(); ++b) {
      Expected<const Batch *> got = prefetcher.next();
      ASSERT_TRUE(got.ok()) << got.message();
      Batch want;
      ASSERT_TRUE(loader.getBatch(b, want).ok());
      EXPECT_EQ((*got)->indices, want.indices) << "batch " << b;
      EXPECT_TRUE(cnnc::rt::test::sameTensor((*got)->images, want.images))
          << "batch " << b;
      EXPECT_TRUE(cnnc::rt::test::sameTensor((*got)->labels, want.labels))
          << "batch " << b;
    }
    Expected<const Batch *> past = prefetcher.next();
    ASSERT_FALSE(past.ok());
    EXPECT_NE(past.message().find("no batch after the last one (8)"),
              std::string::npos)
        << past.message();
  }
}

// The batch handed out stays intact while the caller uses it, although
// the producer is already filling the other buffer; the next call hands out
// that other buffer (and lets the producer refill the first).
TEST(BatchPrefetcherTest, ABatchStaysValidUntilTheNextCall) {
  auto d = syntheticDataset(12, {1, 1, 3}, 2);
  DataLoader loader = shuffledLoader(d, 2);
  BatchPrefetcher prefetcher(loader);
  Expected<const Batch *> first = prefetcher.next();
  ASSERT_TRUE(first.ok());
  const std::vector<int64_t> indices = (*first)->indices;
  const std::vector<float> pixels((*first)->images.f32(),
                                  (*first)->images.f32() + 6);
  // Time for the producer to prepare the next batch (and to overwrite this
  // one, were it wrong); nothing here depends on how long it takes.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ((*first)->indices, indices);
  EXPECT_EQ(
      std::vector<float>((*first)->images.f32(), (*first)->images.f32() + 6),
      pixels);
  Expected<const Batch *> second = prefetcher.next();
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
}

// Leaving an epoch early (a diverged step) stops the producer cleanly.
TEST(BatchPrefetcherTest, StopsWhenLeftEarly) {
  auto d = syntheticDataset(100, {1, 2, 2}, 2);
  DataLoader loader = shuffledLoader(d, 3);
  for (int taken = 0; taken < 3; ++taken) {
    BatchPrefetcher prefetcher(loader);
    for (int b = 0; b < taken; ++b)
      ASSERT_TRUE(prefetcher.next().ok());
  }
}

} // namespace
} // namespace cnnc::rt::data
