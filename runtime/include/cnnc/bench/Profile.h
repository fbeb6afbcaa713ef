// Per-op times of a library built with `--profile`: Halide's sampling
// profiler's per-Func statistics, read through the library's extra
// cnnc_profile_* exports
// (compiler/driver/include/cnnc/driver/ProfileWrapper.h), grouped back into the
// network's layers and their gradient ops.
#ifndef CNNC_BENCH_PROFILE_H
#define CNNC_BENCH_PROFILE_H

#include "cnnc/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cnnc::rt::bench {

// One Func's statistics in one pipeline since the last reset.
struct FuncTime {
  std::string pipeline; // "forward" or "train_step"
  std::string func;     // Halide's Func name ("conv1_accum")
  double seconds = 0;   // over all runs
  int runs = 0;         // calls of the pipeline
  int samples = 0;      // the pipeline's profiler samples
};

// An op of the forward pass or the training step as the profiled library
// describes it (its compiler knows which Funcs each op made).
struct ProfiledOp {
  std::string func; // the prefix of its Funcs' names ("conv1_conv2d_input_grad")
  std::string name; // its row: "conv1", "conv1 conv2d_input_grad", "conv1.weight"
  std::string kind; // its op ("conv2d_input_grad")
  double flops = 0; // FLOPs per sample; 0: not counted
};

// The profiler's accessors of a loaded library.
class ProfilerLibrary {
public:
  // Opens the library at `path` once more (the same handle as an open
  // ModelLibrary of it). Nothing when it was built without --profile.
  static Expected<std::optional<ProfilerLibrary>> open(const std::string &path);

  ProfilerLibrary(ProfilerLibrary &&) noexcept;
  ProfilerLibrary &operator=(ProfilerLibrary &&) noexcept;
  ~ProfilerLibrary();

  // Forgets the statistics so far; no pipeline may be running.
  Status reset();
  // The statistics of the pipelines that ran since the last reset.
  Expected<std::vector<FuncTime>> read() const;
  Expected<std::vector<ProfiledOp>> ops() const;

private:
  struct Impl;
  explicit ProfilerLibrary(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One row of the per-op table.
struct OpTime {
  std::string pipeline;         // "forward" or "train_step"
  std::string name;             // "conv1", "conv1 conv2d_weight_grad", ...
  double ms = 0;                // per call
  double percent = 0;           // of the pipeline's time
  std::optional<double> gflops; // where the op's FLOPs are known
  std::optional<double> peakPercent;
  double samples = 0; // the profiler samples its time rests on
};

// A pipeline's profile: its rows and what the numbers rest on.
struct PipelineProfile {
  std::string pipeline;
  int runs = 0, samples = 0;
  double msPerCall = 0; // sum over its Funcs
  std::vector<OpTime> ops;
};

// Groups `funcs` into the library's ops: a Func belongs to the op whose
// Func prefix is its longest (the Func itself, or the prefix followed by
// "_"; Halide's "$<n>" suffixes ignored); Funcs of no op keep their name.
// GFLOP/s where the op's FLOPs are known; `peakGflops` is the FMA peak they
// are compared with.
std::vector<PipelineProfile>
groupProfile(const std::vector<FuncTime> &funcs,
             const std::vector<ProfiledOp> &ops, int64_t batch,
             double peakGflops);

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_PROFILE_H
