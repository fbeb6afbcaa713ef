// Progress of a training epoch. On a terminal, one line redrawn in place with
// '\r' (epoch e/E, batch b/B, running loss, images/s, ETA); elsewhere (a log
// file, a pipe) plain lines at about every 10% of the epoch, with no control
// characters at all.
#ifndef CNNC_TRAIN_PROGRESS_H
#define CNNC_TRAIN_PROGRESS_H

#include <cstdint>
#include <iosfwd>
#include <string>

namespace cnnc::rt {

enum class ProgressStyle { Terminal, Lines, None };

// Terminal when `out` writes to std::cout / std::cerr and that file
// descriptor is a terminal (isatty); Lines otherwise.
ProgressStyle detectProgressStyle(const std::ostream &out);

// "0:07", "12:34", "1:02:03".
std::string formatDuration(double seconds);

class Progress {
public:
  Progress(std::ostream &out, ProgressStyle style) : out_(out), style_(style) {}

  // Epoch `epoch` (1-based) of `epochs`, with `batches` batches.
  void startEpoch(int64_t epoch, int64_t epochs, int64_t batches);
  // After batch `done` (1-based) of the epoch: the mean loss so far, the
  // images seen and the seconds spent in this epoch.
  void update(int64_t done, double runningLoss, int64_t images, double seconds);
  // Clears the redrawn line, so the epoch's summary starts at column 0.
  void endEpoch();

private:
  std::string line(int64_t done, double runningLoss, int64_t images,
                   double seconds) const;

  std::ostream &out_;
  ProgressStyle style_;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  double lastDraw_ = -1.0;
  size_t drawnWidth_ = 0;
};

} // namespace cnnc::rt

#endif // CNNC_TRAIN_PROGRESS_H
