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
// After `warmupSteps` (at least 1) steps at the last candidate (every core,
// the default, which the run starts with), each candidate runs
// `stepsPerTrial` steps in turn, `rounds` times; the one with the lowest
// median step time is kept for the rest of the run. A step's time runs from
// the end of the step before it in its epoch (waiting for its batch
// included); the first step of an epoch has none.
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

  // After each step: its batch in the epoch (1-based) and the seconds since
  // the epoch started. Returns the thread count the next step must run with
  // when it differs from this step's.
  std::optional<int32_t> afterStep(int64_t batchInEpoch, double epochSeconds);

  // Steps until the choice: warm-up and trials.
  int64_t tuningSteps() const;

  // The count kept, once the trials are over.
  std::optional<int32_t> chosen() const { return chosen_; }
  // "1 thread (median step 0.281 ms; 2 threads: 0.372 ms)".
  std::string report() const;

private:
  int32_t countFor(int64_t step) const;
  double median(int32_t threads) const;

  std::vector<int32_t> candidates_;
  int warmup_, perTrial_, rounds_;
  int64_t steps_ = 0;      // steps completed
  double lastStepEnd_ = 0; // epoch seconds at the end of the step before
  std::map<int32_t, std::vector<double>> seconds_;
  std::optional<int32_t> chosen_;
};

// The cores this process may run on: its CPU affinity (as taskset, a
// container's cpuset or an MPI launcher's binding leaves it), at least 1.
int32_t usableCores();
// Their numbers, ascending (empty when the system does not say).
std::vector<int> usableCpus();

} // namespace cnnc::rt

#endif // CNNC_TRAIN_THREADTUNER_H
