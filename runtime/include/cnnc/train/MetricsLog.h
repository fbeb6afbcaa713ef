// `cnnc train --metrics FILE.csv`: the run's curves as CSV, one row every
// K steps (the mean loss of the steps since the previous row) and one per
// epoch (its training loss, validation loss and accuracy), each with the
// learning rate and images/s, flushed as written so a plot can follow the
// run. python/cnnc/plot.py draws them.
#ifndef CNNC_TRAIN_METRICSLOG_H
#define CNNC_TRAIN_METRICSLOG_H

#include "cnnc/Error.h"
#include "cnnc/train/Trainer.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

namespace cnnc::rt {

// The CSV header: kind (step or epoch), epoch, step (steps taken in the
// run), progress (epochs done, fractional), lr, train_loss, val_loss,
// val_accuracy (a fraction), images_per_second, seconds (since the epoch
// started). A value that does not apply is empty.
extern const char kMetricsHeader[];

class MetricsLog {
public:
  // Opens `path` anew; or, for a run resumed after step `resumedAfter`,
  // keeps the rows of an existing file up to that step (those an
  // interrupted run wrote after its last checkpoint are dropped: the
  // resumed run writes them again) and adds after them. A file that is not
  // such a metrics file is an error. `everySteps` 0 writes epoch rows only.
  static Expected<MetricsLog> open(const std::string &path, int64_t everySteps,
                                   std::optional<int64_t> resumedAfter);

  Status step(const StepRecord &record);
  Status epoch(const EpochSummary &summary, int64_t steps);

private:
  MetricsLog(std::ofstream file, std::string path, int64_t everySteps)
      : file_(std::move(file)), path_(std::move(path)),
        everySteps_(everySteps) {}
  Status written();

  std::ofstream file_;
  std::string path_;
  int64_t everySteps_ = 0;
  // Since the last step row: the loss summed over samples, the samples, the
  // seconds of training they took.
  double lossSum_ = 0.0;
  int64_t images_ = 0;
  double windowStart_ = 0.0;
};

} // namespace cnnc::rt

#endif // CNNC_TRAIN_METRICSLOG_H
