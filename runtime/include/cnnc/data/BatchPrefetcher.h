// Batches of one epoch prepared ahead on a producer thread: while the caller
// trains or evaluates on batch b, batch b + 1 is read, decoded and
// transformed into the other of two buffers. The batches are exactly
// DataLoader::getBatch's, in order.
#ifndef CNNC_DATA_BATCHPREFETCHER_H
#define CNNC_DATA_BATCHPREFETCHER_H

#include "cnnc/data/DataLoader.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace cnnc::rt::data {

class BatchPrefetcher {
public:
  /// Starts preparing batch 0 of `loader`'s current epoch; `loader` must
  /// not change (setEpoch) until the prefetcher is destroyed.
  explicit BatchPrefetcher(const DataLoader &loader);
  /// Stops the producer (after the batch it is preparing).
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher &) = delete;
  BatchPrefetcher &operator=(const BatchPrefetcher &) = delete;

  /// The next batch of the epoch, valid until the next call; an error
  /// past the last batch or where getBatch failed.
  Expected<const Batch *> next();

private:
  void produce();

  struct Slot {
    Batch batch;
    Status status = Status::success();
    bool ready = false;
  };
  const DataLoader &loader_;
  const int64_t batches_;
  Slot slots_[2];
  int64_t consumed_ = 0; // batches handed out by next()
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread producer_;
};

} // namespace cnnc::rt::data

#endif // CNNC_DATA_BATCHPREFETCHER_H
