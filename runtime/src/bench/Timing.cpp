#include "cnnc/bench/Timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace cnnc::rt::bench {

int chooseRuns(const TimingOptions &options, double secondsPerCall) {
  if (options.runs > 0)
    return options.runs;
  double wanted = secondsPerCall > 0
                      ? std::ceil(options.targetSeconds / secondsPerCall)
                      : options.maxRuns;
  return static_cast<int>(std::clamp<double>(
      wanted, options.minRuns, std::max(options.minRuns, options.maxRuns)));
}

Expected<Timing> timeCalls(const std::function<Status()> &call, int64_t batch,
                           const TimingOptions &options) {
  using Clock = std::chrono::steady_clock;
  auto timed = [&](double &seconds) -> Status {
    Clock::time_point start = Clock::now();
    Status s = call();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return s;
  };
  // The warm-up calls fault in buffers and start Halide's thread pool; the
  // fastest of them predicts a measured call.
  double fastest = 0;
  for (int i = 0; i < std::max(options.warmup, 1); ++i) {
    double seconds = 0;
    if (Status s = timed(seconds); !s)
      return s;
    fastest = i == 0 ? seconds : std::min(fastest, seconds);
  }
  const int runs = chooseRuns(options, fastest);
  std::vector<double> samples(runs);
  for (double &seconds : samples)
    if (Status s = timed(seconds); !s)
      return s;
  std::sort(samples.begin(), samples.end());
  Timing t;
  t.runs = runs;
  t.minSeconds = samples.front();
  t.maxSeconds = samples.back();
  t.medianSeconds = runs % 2
                        ? samples[runs / 2]
                        : 0.5 * (samples[runs / 2 - 1] + samples[runs / 2]);
  t.imagesPerSecond = t.medianSeconds > 0 ? batch / t.medianSeconds : 0;
  return t;
}

} // namespace cnnc::rt::bench
