#include "cnnc/train/ThreadTuner.h"

#include <algorithm>
#include <cstdio>
#include <sched.h>
#include <unistd.h>

namespace cnnc::rt {

ThreadTuner::ThreadTuner(std::vector<int32_t> candidates, int warmupSteps,
                         int stepsPerTrial, int rounds)
    : candidates_(std::move(candidates)), warmup_(std::max(1, warmupSteps)),
      perTrial_(std::max(1, stepsPerTrial)), rounds_(std::max(1, rounds)) {
  if (candidates_.size() == 1)
    chosen_ = candidates_.front();
}

int64_t ThreadTuner::tuningSteps() const {
  return warmup_ + int64_t{rounds_} * static_cast<int64_t>(candidates_.size()) *
                       perTrial_;
}

int32_t ThreadTuner::countFor(int64_t step) const {
  if (chosen_ || candidates_.empty())
    return chosen_.value_or(0);
  if (step < warmup_ || step >= tuningSteps())
    return candidates_.back();
  const int64_t trial = (step - warmup_) / perTrial_;
  return candidates_[static_cast<size_t>(
      trial % static_cast<int64_t>(candidates_.size()))];
}

double ThreadTuner::median(int32_t threads) const {
  auto it = seconds_.find(threads);
  if (it == seconds_.end() || it->second.empty())
    return 0;
  std::vector<double> v = it->second;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2),
                   v.end());
  return v[v.size() / 2];
}

std::optional<int32_t> ThreadTuner::afterStep(int64_t batchInEpoch,
                                              double epochSeconds) {
  if (chosen_ || candidates_.empty())
    return std::nullopt;
  const int32_t current = countFor(steps_);
  if (batchInEpoch > 1 && steps_ >= warmup_)
    seconds_[current].push_back(epochSeconds - lastStepEnd_);
  lastStepEnd_ = epochSeconds;
  ++steps_;
  if (steps_ < tuningSteps()) {
    const int32_t next = countFor(steps_);
    return next != current ? std::optional<int32_t>(next) : std::nullopt;
  }
  // Every candidate timed (unless unknown times left one without any: it
  // keeps the default).
  int32_t best = candidates_.back();
  for (int32_t c : candidates_)
    if (median(c) > 0 && (median(best) == 0 || median(c) < median(best)))
      best = c;
  chosen_ = best;
  return best != current ? std::optional<int32_t>(best) : std::nullopt;
}

std::string ThreadTuner::report() const {
  if (!chosen_)
    return "";
  auto threads = [](int32_t n) {
    return std::to_string(n) + (n == 1 ? " thread" : " threads");
  };
  auto ms = [](double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g ms", s * 1e3);
    return std::string(text);
  };
  std::string text = threads(*chosen_);
  if (median(*chosen_) == 0)
    return text;
  text += " (median step " + ms(median(*chosen_));
  for (int32_t c : candidates_)
    if (c != *chosen_ && median(c) > 0)
      text += "; " + threads(c) + ": " + ms(median(c));
  return text + ")";
}

static int32_t onlineCores() {
  return static_cast<int32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

std::vector<int> usableCpus() {
  cpu_set_t mask;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &mask))
        cpus.push_back(cpu);
  return cpus;
}

int32_t usableCores() {
  const size_t cpus = usableCpus().size();
  return cpus ? static_cast<int32_t>(cpus) : onlineCores();
}

} // namespace cnnc::rt
