// What `cnnc bench` found, printed as tables for a person or as one JSON
// object for scripts (the schema is documented at toJson).
#ifndef CNNC_BENCH_REPORT_H
#define CNNC_BENCH_REPORT_H

#include "cnnc/bench/Profile.h"
#include "cnnc/bench/Timing.h"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cnnc::rt::bench {

struct ScheduleResult {
  std::string schedule; // "manual", "auto:Li2018", or "library" for NET.so
  Timing forward;
  std::optional<Timing> trainStep; // none: the library has no training step
  std::vector<PipelineProfile> profile; // empty: no per-op times
};

struct BenchReport {
  std::string network;
  int64_t batch = 0;
  int threads = 0;
  std::string isa;           // of the FMA kernel
  double peakOneThread = 0;  // GFLOP/s
  double peakAllThreads = 0; // with `threads` threads
  // Where the library's pipelines run (cnnc_library_info: "cpu", "cuda",
  // "opencl"). On a GPU the FMA peak above is not measured (0): the
  // whole-pipeline rates are compared with `devicePeakGflops`, the
  // driver's fp32 peak (0: unknown, `devicePeak` says why).
  std::string device = "cpu";
  double devicePeakGflops = 0;
  std::string devicePeak;
  // FLOPs per sample of the convolutions and matrix products (0: unknown,
  // a library built before cnnc_library_info).
  int64_t forwardFlopsPerSample = 0;
  int64_t trainStepFlopsPerSample = 0;
  // The cached FMA peak was below what a pipeline reached, so it was
  // measured again (the cache had been filled on a busy machine).
  bool peakRemeasured = false;
  std::vector<ScheduleResult> results;
  // Printed after the tables (e.g. why there are no per-op times).
  std::vector<std::string> notes;
};

// Whether a pipeline of `result` ran above the CPU's FMA peak of `report`'s
// threads (a peak measured on a busy machine); false on a GPU.
bool ranAbovePeak(const BenchReport &report, const ScheduleResult &result);

// Human-readable tables: whole-pipeline timings, per-op tables, and with
// several schedules the ratios of each to the first.
void printReport(const BenchReport &report, std::ostream &os);

// One JSON object:
//   {"network": str, "batch": int, "threads": int, "device": str,
//    "fma_peak_gflops": {"1": float, "<threads>": float} (null on a GPU),
//    "device_peak_gflops": float|null (a GPU's fp32 peak),
//    "flops_per_sample": {"forward": int|null, "train_step": int|null},
//    "results": [{"schedule": str,
//                 "forward": {"median_s", "min_s", "max_s", "runs",
//                 "images_per_s", "gflops": float|null, "peak_percent":
//                 float|null (of the threads' FMA peak, or the GPU's)},
//                 "train_step": the same or null, "ops":
//                 [{"pipeline": "forward"|"train_step", "name": str,
//                          "ms": float, "percent": float,
//                          "gflops": float|null, "peak_percent":
//                          float|null}]}]}
std::string toJson(const BenchReport &report);

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_REPORT_H
