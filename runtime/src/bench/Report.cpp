#include "cnnc/bench/Report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace cnnc::rt::bench {
namespace {

std::string format(const char *fmt, double value) {
  char text[64];
  std::snprintf(text, sizeof text, fmt, value);
  return text;
}

// 42012.3 -> "42,012"
std::string thousands(double value) {
  std::string digits = format("%.0f", value), s;
  size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0)
      s += ',';
    s += digits[i];
  }
  return s;
}

std::string pad(std::string s, size_t width, bool right = false) {
  if (s.size() >= width)
    return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

/// The peak a whole pipeline's rate is compared with: the GPU's, else the
/// FMA peak of the threads used (0: unknown).
double pipelinePeak(const BenchReport &r) {
  return r.device == "cpu" ? r.peakAllThreads : r.devicePeakGflops;
}

/// GFLOP/s of a pipeline of `flopsPerSample` at `t`'s rate (nothing when
/// the FLOPs are unknown).
std::optional<double> gflops(const Timing &t, int64_t flopsPerSample) {
  if (flopsPerSample <= 0)
    return std::nullopt;
  return double(flopsPerSample) * t.imagesPerSecond / 1e9;
}

std::optional<double> peakPercent(const std::optional<double> &rate,
                                  double peak) {
  if (!rate || peak <= 0)
    return std::nullopt;
  return 100.0 * *rate / peak;
}

void printTiming(const char *what, const Timing &t, int64_t flopsPerSample,
                 double peak, std::ostream &os) {
  os << "  " << pad(what, 11) << " median "
     << pad(format("%.3f", t.medianSeconds * 1e3), 9, true) << " ms  (min "
     << format("%.3f", t.minSeconds * 1e3) << ", max "
     << format("%.3f", t.maxSeconds * 1e3) << ", " << t.runs << " runs)  "
     << thousands(t.imagesPerSecond) << " images/s";
  if (std::optional<double> rate = gflops(t, flopsPerSample)) {
    os << ", " << format("%.1f", *rate) << " GFLOP/s";
    if (std::optional<double> share = peakPercent(rate, peak))
      os << " (" << format("%.1f", *share) << "% of peak)";
  }
  os << "\n";
}

// Rates resting on few samples are marked: one sample more or less moves
// them by more than 10%.
constexpr double kFewSamples = 10;
std::string rough(const OpTime &op) {
  return op.samples < kFewSamples ? "*" : "";
}

void printProfile(const PipelineProfile &p, std::ostream &os) {
  os << "\n  " << (p.pipeline == "forward" ? "forward" : "train step")
     << " per op (" << thousands(p.samples) << " profiler samples over "
     << thousands(p.runs) << " calls of the profiled build, "
     << format("%.3f", p.msPerCall) << " ms/call):\n";
  size_t width = 24;
  for (const OpTime &op : p.ops)
    if (op.ms > 0)
      width = std::max(width, op.name.size() + 2);
  os << "    " << pad("op", width) << pad("ms/call", 10, true)
     << pad("%", 8, true) << pad("GFLOP/s", 10, true) << pad("% peak", 9, true)
     << "\n";
  int unsampled = 0;
  for (const OpTime &op : p.ops) {
    if (op.ms <= 0) {
      ++unsampled;
      continue;
    }
    os << "    " << pad(op.name, width) << pad(format("%.4f", op.ms), 10, true)
       << pad(format("%.1f", op.percent), 8, true)
       << pad(op.gflops ? format("%.1f", *op.gflops) + rough(op) : "-", 10,
              true)
       << pad(op.peakPercent ? format("%.1f", *op.peakPercent) + rough(op)
                             : "-",
              9, true)
       << "\n";
  }
  if (unsampled)
    os << "    (" << unsampled << (unsampled == 1 ? " op" : " ops")
       << " without a sample left out; --json lists them)\n";
}

nlohmann::ordered_json optional(const std::optional<double> &v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json timingJson(const Timing &t, int64_t flopsPerSample,
                                  double peak) {
  const std::optional<double> rate = gflops(t, flopsPerSample);
  return {{"median_s", t.medianSeconds},
          {"min_s", t.minSeconds},
          {"max_s", t.maxSeconds},
          {"runs", t.runs},
          {"images_per_s", t.imagesPerSecond},
          {"gflops", optional(rate)},
          {"peak_percent", optional(peakPercent(rate, peak))}};
}

nlohmann::ordered_json positive(int64_t v) {
  return v > 0 ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

} // namespace

bool ranAbovePeak(const BenchReport &r, const ScheduleResult &s) {
  if (r.device != "cpu")
    return false;
  auto above = [&](const Timing &t, int64_t flops) {
    std::optional<double> share =
        peakPercent(gflops(t, flops), r.peakAllThreads);
    return share && *share > 100;
  };
  return above(s.forward, r.forwardFlopsPerSample) ||
         (s.trainStep && above(*s.trainStep, r.trainStepFlopsPerSample));
}

void printReport(const BenchReport &r, std::ostream &os) {
  os << "network " << r.network << ", batch " << r.batch;
  if (r.device == "cpu") {
    os << ", " << r.threads << (r.threads == 1 ? " thread" : " threads") << "\n"
       << "FMA peak (" << r.isa << "): " << format("%.1f", r.peakOneThread)
       << " GFLOP/s on 1 thread";
    if (r.threads != 1)
      os << ", " << format("%.1f", r.peakAllThreads) << " GFLOP/s on "
         << r.threads << " threads";
  } else {
    os << ", on the GPU (" << r.device << ")\nfp32 peak: ";
    if (r.devicePeakGflops > 0)
      os << format("%.1f", r.devicePeakGflops) << " GFLOP/s (" << r.devicePeak
         << ")";
    else
      os << "unknown (" << r.devicePeak << ")";
  }
  os << "\n";
  const double peak = pipelinePeak(r);
  for (const ScheduleResult &s : r.results) {
    os << "\nschedule " << s.schedule << "\n";
    printTiming("forward", s.forward, r.forwardFlopsPerSample, peak, os);
    if (s.trainStep)
      printTiming("train step", *s.trainStep, r.trainStepFlopsPerSample, peak,
                  os);
    else
      os << "  train step  none (the library has no training step)\n";
    for (const PipelineProfile &p : s.profile)
      printProfile(p, os);
  }
  bool profiled = false;
  for (const ScheduleResult &s : r.results)
    profiled = profiled || !s.profile.empty();
  if (profiled)
    os << "\nPer-op times come from Halide's sampling profiler, which records "
          "the "
          "running Func about once per millisecond: an op's time is its share "
          "of the "
          "samples. GFLOP/s count a multiply-add as 2; % peak is of the "
       << r.threads << "-thread FMA peak; * marks rates from fewer than "
       << kFewSamples << " samples (rough).\n";
  // A busy machine shows as a wide spread; the median resists it, but the
  // reader should know.
  bool noisy = false;
  for (const ScheduleResult &s : r.results)
    noisy =
        noisy || s.forward.maxSeconds > 2 * s.forward.minSeconds ||
        (s.trainStep && s.trainStep->maxSeconds > 2 * s.trainStep->minSeconds);
  bool abovePeak = false;
  for (const ScheduleResult &s : r.results)
    abovePeak = abovePeak || ranAbovePeak(r, s);
  if (r.peakRemeasured)
    os << "\nA pipeline ran above the cached FMA peak, which had been measured "
          "while other work used the CPUs: the peak above was measured "
          "again.\n";
  if (abovePeak)
    os << "\nA pipeline ran above the FMA peak: it was measured while other "
          "work used the CPUs; --remeasure-peak measures it again.\n";
  if (noisy)
    os << "\nSome calls took more than twice the fastest one: another process "
          "may "
          "have been using the CPUs (the FMA peak too is measured, and cached, "
          "as the "
          "machine was; --remeasure-peak measures it again).\n";
  for (const std::string &note : r.notes)
    os << "\n" << note << "\n";
  if (r.results.size() > 1) {
    const ScheduleResult &base = r.results.front();
    os << "\nimages/s, ratio to " << base.schedule << ":\n";
    os << "  " << pad("schedule", 22) << pad("forward", 22) << "train step\n";
    for (const ScheduleResult &s : r.results) {
      auto cell = [](const Timing &t, double baseRate) {
        return thousands(t.imagesPerSecond) +
               (baseRate > 0
                    ? " (" + format("%.2f", t.imagesPerSecond / baseRate) + "x)"
                    : "");
      };
      os << "  " << pad(s.schedule, 22)
         << pad(cell(s.forward, base.forward.imagesPerSecond), 22)
         << (s.trainStep
                 ? cell(*s.trainStep,
                        base.trainStep ? base.trainStep->imagesPerSecond : 0)
                 : "-")
         << "\n";
    }
  }
}

std::string toJson(const BenchReport &r) {
  nlohmann::ordered_json fmaPeak = nullptr;
  if (r.device == "cpu") {
    fmaPeak = nlohmann::ordered_json::object();
    fmaPeak["1"] = r.peakOneThread;
    fmaPeak[std::to_string(r.threads)] = r.peakAllThreads;
  }
  const double peak = pipelinePeak(r);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const ScheduleResult &s : r.results) {
    nlohmann::ordered_json ops = nlohmann::ordered_json::array();
    for (const PipelineProfile &p : s.profile)
      for (const OpTime &op : p.ops)
        ops.push_back({{"pipeline", op.pipeline},
                       {"name", op.name},
                       {"ms", op.ms},
                       {"percent", op.percent},
                       {"gflops", optional(op.gflops)},
                       {"peak_percent", optional(op.peakPercent)}});
    results.push_back(
        {{"schedule", s.schedule},
         {"forward", timingJson(s.forward, r.forwardFlopsPerSample, peak)},
         {"train_step",
          s.trainStep
              ? timingJson(*s.trainStep, r.trainStepFlopsPerSample, peak)
              : nlohmann::ordered_json(nullptr)},
         {"ops", ops}});
  }
  nlohmann::ordered_json j = {
      {"network", r.network},
      {"batch", r.batch},
      {"threads", r.threads},
      {"device", r.device},
      {"fma_peak_gflops", fmaPeak},
      {"device_peak_gflops", r.devicePeakGflops > 0
                                 ? nlohmann::ordered_json(r.devicePeakGflops)
                                 : nlohmann::ordered_json(nullptr)},
      {"flops_per_sample",
       {{"forward", positive(r.forwardFlopsPerSample)},
        {"train_step", positive(r.trainStepFlopsPerSample)}}},
      {"results", results}};
  return j.dump(2);
}

} // namespace cnnc::rt::bench
