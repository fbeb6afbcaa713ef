#include "cnnc/data/BatchPrefetcher.h"

namespace cnnc::rt::data {

BatchPrefetcher::BatchPrefetcher(const DataLoader &loader)
    : loader_(loader), batches_(loader.numBatches()) {
  producer_ = std::thread([this] { produce(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  producer_.join();
}

void BatchPrefetcher::produce() {
  for (int64_t b = 0; b < batches_; ++b) {
    Slot &slot = slots_[b % 2];
    {
      // Slot b % 2 last held batch b - 2, which the caller is done with once
      // it asked for batch b - 1 (consumed_ is then b).
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || b < 2 || consumed_ >= b; });
      if (stop_)
        return;
    }
    Status status = loader_.getBatch(b, slot.batch);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slot.status = std::move(status);
      slot.ready = true;
    }
    changed_.notify_all();
    if (!slot.status)
      return;
  }
}

Expected<const Batch *> BatchPrefetcher::next() {
  if (consumed_ >= batches_)
    return Error("no batch after the last one (" + std::to_string(batches_) +
                 ") of the epoch");
  const int64_t b = consumed_;
  Slot &slot = slots_[b % 2];
  std::unique_lock<std::mutex> lock(mutex_);
  // The batch before this one is no longer used: its slot may be refilled.
  if (b > 0)
    slots_[(b - 1) % 2].ready = false;
  ++consumed_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return slot.ready; });
  if (!slot.status)
    return slot.status.error();
  return &slot.batch;
}

} // namespace cnnc::rt::data
