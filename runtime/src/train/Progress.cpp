#include "cnnc/train/Progress.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace cnnc::rt {

ProgressStyle detectProgressStyle(const std::ostream &out) {
  if (out.rdbuf() == std::cout.rdbuf())
    return ::isatty(STDOUT_FILENO) ? ProgressStyle::Terminal
                                   : ProgressStyle::Lines;
  if (out.rdbuf() == std::cerr.rdbuf() || out.rdbuf() == std::clog.rdbuf())
    return ::isatty(STDERR_FILENO) ? ProgressStyle::Terminal
                                   : ProgressStyle::Lines;
  return ProgressStyle::Lines;
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  auto total = static_cast<long long>(std::llround(seconds));
  char buf[48];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600,
                  total / 60 % 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
  return buf;
}

void Progress::startEpoch(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  lastDraw_ = -1.0;
  drawnWidth_ = 0;
}

std::string Progress::line(int64_t done, double runningLoss, int64_t images,
                           double seconds) const {
  const double rate = seconds > 0 ? static_cast<double>(images) / seconds : 0.0;
  const double eta = done > 0 ? seconds / static_cast<double>(done) *
                                    static_cast<double>(batches_ - done)
                              : NAN;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "epoch %lld/%lld: batch %lld/%lld (%3d%%), loss %.4f, %.0f "
                "images/s, ETA %s",
                static_cast<long long>(epoch_), static_cast<long long>(epochs_),
                static_cast<long long>(done), static_cast<long long>(batches_),
                batches_ > 0 ? static_cast<int>(100 * done / batches_) : 100,
                runningLoss, rate, formatDuration(eta).c_str());
  return buf;
}

void Progress::update(int64_t done, double runningLoss, int64_t images,
                      double seconds) {
  switch (style_) {
  case ProgressStyle::None:
    return;
  case ProgressStyle::Lines: {
    // Whenever the tenth of the epoch changes, and at its end.
    const int64_t before = batches_ > 0 ? 10 * (done - 1) / batches_ : 0;
    const int64_t now = batches_ > 0 ? 10 * done / batches_ : 0;
    if (now != before || done == batches_)
      out_ << line(done, runningLoss, images, seconds) << "\n" << std::flush;
    return;
  }
  case ProgressStyle::Terminal: {
    // At most ten redraws a second, and always the last batch.
    if (done != batches_ && lastDraw_ >= 0 && seconds - lastDraw_ < 0.1)
      return;
    lastDraw_ = seconds;
    std::string text = line(done, runningLoss, images, seconds);
    const size_t width = text.size();
    if (width < drawnWidth_)
      text.append(drawnWidth_ - width, ' '); // erase the rest of a longer line
    drawnWidth_ = width;
    out_ << "\r" << text << std::flush;
    return;
  }
  }
}

void Progress::endEpoch() {
  if (style_ == ProgressStyle::Terminal && drawnWidth_ > 0)
    out_ << "\r" << std::string(drawnWidth_, ' ') << "\r" << std::flush;
  drawnWidth_ = 0;
}

} // namespace cnnc::rt
