// Chooses the thread count of a training run by timing its own first steps,
// as cudnn.benchmark picks convolution algorithms by timing them.
//
// Which count is faster depends on the network, the batch and the machine:
// a small network's step is short next to the cost of waking a second
// thread, and the batch producer needs a core too (the FeedForwardNet's
// Fashion-MNIST epoch ran 30% slower on 2 threads than on 1 here, LeNet-5's
// faster). The results do not depend on it: training steps are
// bit-identical across thread counts (docs/abi.md, Determinism).
//
// After `warmupSteps` steps at the last candidate (every core, the default),
// each candidate runs `stepsPerTrial` steps in turn, `rounds` times; the one
// with the lowest median step time is kept for the rest of the run.
#ifndef CNNC_TRAIN_THREADTUNER_H
#define CNNC_TRAIN_THREADTUNER_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::rt {

class ThreadTuner {
public:
  // `candidates`: distinct thread counts, the one in use first last.
  ThreadTuner(std::vector<int32_t> candidates, int warmupSteps = 5,
              int stepsPerTrial = 8, int rounds = 3);

  // After each step, with its seconds (none for a step whose time is
  // unknown, e.g. the first of an epoch). Returns the thread count the next
  // step must run with when it differs from this step's.
  std::optional<int32_t> afterStep(std::optional<double> seconds);

  // The count kept, once the trials are over.
  std::optional<int32_t> chosen() const { return chosen_; }
  // "1 thread (median step 0.281 ms; 2 threads: 0.372 ms)".
  std::string report() const;

private:
  int32_t countFor(int64_t step) const;
  double median(int32_t threads) const;

  std::vector<int32_t> candidates_;
  int warmup_, perTrial_, rounds_;
  int64_t steps_ = 0; // steps completed
  std::map<int32_t, std::vector<double>> seconds_;
  std::optional<int32_t> chosen_;
};

} // namespace cnnc::rt

#endif // CNNC_TRAIN_THREADTUNER_H
