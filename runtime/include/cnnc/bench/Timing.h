// Wall-clock timing of a repeated call with a monotonic clock: warm-up
// calls first, then the median, minimum and maximum of the measured calls.
#ifndef CNNC_BENCH_TIMING_H
#define CNNC_BENCH_TIMING_H

#include "cnnc/Error.h"

#include <cstdint>
#include <functional>

namespace cnnc::rt::bench {

struct Timing {
  double medianSeconds = 0, minSeconds = 0, maxSeconds = 0;
  int runs = 0;
  double imagesPerSecond = 0; // batch / median
};

struct TimingOptions {
  int warmup = 3;
  // Measured calls; 0 chooses enough for about `targetSeconds`, at least
  // `minRuns` (from the warm-up calls' time).
  int runs = 0;
  double targetSeconds = 1.5;
  int minRuns = 10;
  int maxRuns = 100000;
};

// The number of measured calls `options` asks for when one call takes
// `secondsPerCall`.
int chooseRuns(const TimingOptions &options, double secondsPerCall);

// Times `call` on a batch of `batch` images. The first failing call's error
// is returned.
Expected<Timing> timeCalls(const std::function<Status()> &call, int64_t batch,
                           const TimingOptions &options);

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_TIMING_H
