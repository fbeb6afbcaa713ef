#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/FileIO.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/bench/FmaPeak.h"
#include "cnnc/bench/GpuPeak.h"
#include "cnnc/bench/Profile.h"
#include "cnnc/bench/Report.h"
#include "cnnc/bench/Timing.h"
#include "cnnc/bench/Workload.h"
#include "cnnc/train/Recipe.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <ostream>
#include <sys/stat.h>
#include <thread>

namespace cnnc::rt {

static const char kBenchUsage[] =
    "usage: cnnc bench NET.yaml|NET.mlir|NET.so [--batch N] [--threads T]\n"
    "                  [--compare manual,auto:Li2018,...] [--runs R] [--json]\n"
    "                  [--remeasure-peak] [--profile-time SECONDS]\n"
    "\n"
    "Times whole forward passes and training steps (SGD, lr 0.01, momentum "
    "0.9)\n"
    "on random images and labels with PyTorch's default initial weights, and\n"
    "reports images/s from the median call. Given NET.yaml (or NET.mlir), "
    "cnnc\n"
    "compiles it once per schedule, plus a build with Halide's sampling\n"
    "profiler that gives the time, GFLOP/s and share of the FMA peak of each\n"
    "op; a NET.so built with `cnnc NET.yaml -o NET.so --profile` gives them\n"
    "too. A GPU library (--target host-cuda, host-opencl) is timed waiting "
    "for\n"
    "the device, its GFLOP/s against the GPU's fp32 peak.\n"
    "\n"
    "  --batch N          images per call (default: the YAML's train "
    "batch_size,\n"
    "                     else 64)\n"
    "  --threads T        threads (default: one per core)\n"
    "  --compare LIST     schedules to compare, comma-separated (NET.yaml "
    "only;\n"
    "                     default manual): manual, auto:Mullapudi2016, "
    "auto:Li2018,\n"
    "                     auto:Adams2019\n"
    "  --runs R           measured calls after 3 warm-up calls (default: "
    "enough\n"
    "                     for about 1.5 s, at least 10)\n"
    "  --json             print one JSON object instead of tables\n"
    "  --remeasure-peak   measure the FMA peak again instead of reading the "
    "cache\n"
    "                     ($XDG_CACHE_HOME/cnnc/fma-peak.json)\n"
    "  --profile-time S   seconds of profiled calls per pipeline (default 2; "
    "the\n"
    "                     profiler samples once per millisecond)\n";

namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string input;
  bool network = false; // a network to compile (NET.yaml, NET.mlir)
  std::optional<int64_t> batch;
  int threads = 1;
  std::vector<std::string> schedules;
  int runs = 0; // 0: automatic
  bool json = false;
  bool remeasurePeak = false;
  double profileSeconds = 2.0;
};

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The recipe's batch_size, with the recipe schema's default; a recipe that
// cannot be read (`cnnc train` reports why) leaves the default too.
int64_t recipeBatch(const std::string &json) {
  Expected<TrainingRecipe> recipe = parseTrainingRecipe(json, "");
  return recipe ? recipe->batchSize : TrainingRecipe().batchSize;
}

Expected<BenchOptions> parseBenchOptions(const ParsedArgs &parsed,
                                         const CompilerHooks &compiler) {
  BenchOptions o;
  if (parsed.positional.size() != 1)
    return Error(
        parsed.positional.empty()
            ? "expected a network (NET.yaml) or a model library (NET.so)"
            : "expected one network or library, not " +
                  std::to_string(parsed.positional.size()));
  o.input = parsed.positional[0];
  o.network = endsWith(o.input, ".yaml") || endsWith(o.input, ".yml") ||
              endsWith(o.input, ".mlir");
  const auto &opts = parsed.options;
  if (auto it = opts.find("--batch"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--batch", it->second, 1, 1 << 20);
    if (!v)
      return v.error();
    o.batch = *v;
  }
  o.threads =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (auto it = opts.find("--threads"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--threads", it->second, 1, 1024);
    if (!v)
      return v.error();
    o.threads = static_cast<int>(*v);
  }
  if (auto it = opts.find("--runs"); it != opts.end()) {
    Expected<int64_t> v = parseInteger("--runs", it->second, 1, 1000000);
    if (!v)
      return v.error();
    o.runs = static_cast<int>(*v);
  }
  if (auto it = opts.find("--profile-time"); it != opts.end()) {
    Expected<double> v = parseReal("--profile-time", it->second, 0.0, false);
    if (!v)
      return v.error();
    if (*v > 3600)
      return Error("option '--profile-time' needs at most 3600 seconds, not '" +
                   it->second + "'");
    o.profileSeconds = *v;
  }
  o.json = parsed.flags.count("--json") > 0;
  o.remeasurePeak = parsed.flags.count("--remeasure-peak") > 0;
  if (auto it = opts.find("--compare"); it != opts.end()) {
    if (!o.network)
      return Error(
          "--compare needs the network's YAML: " + o.input +
          " is a compiled library, whose schedule is fixed (run `cnnc bench "
          "NET.yaml --compare " +
          it->second + "`)");
    for (const std::string &s : splitList(it->second)) {
      if (s.empty())
        return Error("--compare: empty schedule name in '" + it->second + "'");
      if (std::find(o.schedules.begin(), o.schedules.end(), s) !=
          o.schedules.end())
        return Error("--compare: schedule '" + s + "' is given twice");
      if (Status st = compiler.checkSchedule(s); !st)
        return Error("--compare: " + st.message());
      o.schedules.push_back(s);
    }
  } else {
    o.schedules = {o.network ? "manual" : "library"};
  }
  struct stat st {};
  if (::stat(o.input.c_str(), &st) != 0)
    return Error(o.input + ": no such file");
  if (!S_ISREG(st.st_mode))
    return Error(o.input + ": not a regular file");
  return o;
}

/// Whole-pipeline timings of one library.
Status timeLibrary(const ModelLibrary &model, const BenchOptions &o,
                   int64_t batch, bench::ScheduleResult &result,
                   std::ostream &err) {
  bench::TimingOptions timing;
  timing.runs = o.runs;
  Expected<bench::Workload> work = bench::Workload::create(model, batch, 0);
  if (!work)
    return work.status();
  err << "cnnc bench: timing the forward pass (" << result.schedule << ")\n";
  Expected<bench::Timing> forward =
      bench::timeCalls([&] { return work->forward(); }, batch, timing);
  if (!forward)
    return forward.status();
  result.forward = *forward;
  if (work->hasTrainStep()) {
    err << "cnnc bench: timing the training step (" << result.schedule << ")\n";
    Expected<bench::Timing> train =
        bench::timeCalls([&] { return work->trainStep(); }, batch, timing);
    if (!train)
      return train.status();
    result.trainStep = *train;
  }
  return Status::success();
}

/// Runs `call` for about `seconds` (at least `minCalls` calls).
Status repeat(const std::function<Status()> &call, double seconds,
              int minCalls) {
  Clock::time_point start = Clock::now();
  for (int n = 0;; ++n) {
    if (n >= minCalls &&
        std::chrono::duration<double>(Clock::now() - start).count() >= seconds)
      return Status::success();
    if (Status s = call(); !s)
      return s;
  }
}

/// Per-op times from a library built with --profile.
Status profileLibrary(const ModelLibrary &model,
                      bench::ProfilerLibrary &profiler, const BenchOptions &o,
                      int64_t batch, double peak, bench::ScheduleResult &result,
                      std::ostream &err) {
  Expected<bench::Workload> work = bench::Workload::create(model, batch, 0);
  if (!work)
    return work.status();
  Expected<std::vector<bench::ProfiledOp>> ops = profiler.ops();
  if (!ops)
    return ops.status();
  const int minCalls = std::max(o.runs, 3);
  std::vector<bench::FuncTime> funcs;
  auto profile = [&](const char *what,
                     const std::function<Status()> &call) -> Status {
    err << "cnnc bench: profiling the " << what << " (" << result.schedule
        << ", about " << o.profileSeconds << " s)\n";
    // Warm up outside the statistics, as the timings do.
    for (int i = 0; i < 3; ++i)
      if (Status s = call(); !s)
        return s;
    if (Status s = profiler.reset(); !s)
      return s;
    if (Status s = repeat(call, o.profileSeconds, minCalls); !s)
      return s;
    Expected<std::vector<bench::FuncTime>> read = profiler.read();
    if (!read)
      return read.status();
    funcs.insert(funcs.end(), read->begin(), read->end());
    return profiler.reset();
  };
  if (Status s = profile("forward pass", [&] { return work->forward(); }); !s)
    return s;
  if (work->hasTrainStep())
    if (Status s = profile("training step", [&] { return work->trainStep(); });
        !s)
      return s;
  result.profile = bench::groupProfile(funcs, *ops, batch, peak);
  return Status::success();
}

/// The FMA peaks on 1 and on the report's threads (cached unless
/// `remeasure`).
void measureFmaPeaks(bench::BenchReport &report, bool remeasure) {
  const std::string cache = bench::defaultFmaPeakCacheFile();
  report.peakOneThread = bench::fmaPeak(1, remeasure, cache);
  report.peakAllThreads =
      report.threads == 1 ? report.peakOneThread
                          : bench::fmaPeak(report.threads, remeasure, cache);
}

Expected<ModelLibrary> loadWithThreads(const std::string &path, int threads) {
  Expected<ModelLibrary> model = ModelLibrary::load(path);
  if (!model)
    return model;
  if (Status s = model->setNumThreads(threads); !s)
    return s;
  return model;
}

} // namespace

int runBenchCommand(const std::vector<std::string> &args, std::ostream &out,
                    std::ostream &err, const CompilerHooks &compiler) {
  const std::string command = "cnnc bench";
  Expected<ParsedArgs> parsed =
      parseArgs(args,
                {{"--batch", "--batch"},
                 {"--threads", "--threads"},
                 {"--compare", "--compare"},
                 {"--runs", "--runs"},
                 {"--profile-time", "--profile-time"}},
                {"--json", "--remeasure-peak"});
  if (!parsed) {
    reportError(err, command, parsed.error());
    err << kBenchUsage;
    return 1;
  }
  if (parsed->help) {
    out << kBenchUsage;
    return 0;
  }
  Expected<BenchOptions> options = parseBenchOptions(*parsed, compiler);
  if (!options)
    return reportError(err, command, options.error());
  const BenchOptions &o = *options;

  // A library given as NET.so: its recipe and where it runs (NET.yaml
  // compiles for the CPU).
  std::string libraryRecipe, device = "cpu";
  if (!o.network) {
    Expected<ModelLibrary> model = ModelLibrary::load(o.input);
    if (!model)
      return reportError(err, command, model.error());
    libraryRecipe = model->trainingRecipeJson();
    if (const auto &info = model->libraryInfo(); info && info->onGpu())
      device = info->device;
  }

  // The batch: --batch, else the recipe's batch_size (64 by default).
  int64_t batch = o.batch.value_or(0);
  if (!o.batch) {
    Expected<std::string> recipe =
        o.network ? compiler.recipeJson(o.input) : libraryRecipe;
    if (!recipe)
      return reportError(err, command, recipe.error());
    batch = recipeBatch(*recipe);
  }

  bench::BenchReport report;
  report.batch = batch;
  report.threads = o.threads;
  report.isa = bench::fmaIsa();
  // A GPU library is compared with the GPU's peak instead of the CPU's.
  report.device = device;
  if (report.device == "cuda") {
    Expected<bench::GpuPeak> peak =
        bench::cudaFp32Peak(bench::halideGpuDevice());
    if (peak) {
      report.devicePeakGflops = peak->gflops;
      report.devicePeak = bench::describe(*peak);
    } else {
      report.devicePeak = peak.message();
    }
  } else if (report.device != "cpu") {
    report.devicePeak = report.device + " does not report its fp32 lanes";
  } else {
    err << "cnnc bench: FMA peak (" << report.isa << ")\n";
    measureFmaPeaks(report, o.remeasurePeak);
  }
  if (report.device != "cpu")
    report.notes.push_back(
        "Each call waits for the GPU: a forward pass copies the logits back to "
        "the host, a training step (in a training session, the parameters "
        "staying on the device) the loss.");

  // The compiled variants, removed with their folder.
  std::optional<ScratchDirectory> scratch;
  if (o.network) {
    Expected<ScratchDirectory> dir = ScratchDirectory::create("cnnc-bench");
    if (!dir)
      return reportError(err, command, dir.error());
    scratch = std::move(*dir);
  }
  for (const std::string &schedule : o.schedules) {
    bench::ScheduleResult result;
    result.schedule = schedule;
    std::string library = o.input, profiled;
    if (o.network) {
      std::string stem =
          scratch->path() + "/" + std::to_string(&schedule - &o.schedules[0]);
      library = stem + ".so";
      profiled = stem + ".profile.so";
      err << "cnnc bench: compiling " << o.input << " (schedule " << schedule
          << ")\n";
      if (Status s = compiler.build(o.input, schedule, batch, false, library);
          !s)
        return reportError(err, command, s.error());
      err << "cnnc bench: compiling " << o.input
          << " with the profiler (schedule " << schedule << ")\n";
      if (Status s = compiler.build(o.input, schedule, batch, true, profiled);
          !s)
        return reportError(err, command, s.error());
    }
    {
      Expected<ModelLibrary> model = loadWithThreads(library, o.threads);
      if (!model)
        return reportError(err, command, model.error());
      report.network = model->name();
      if (const auto &info = model->libraryInfo()) {
        report.forwardFlopsPerSample = info->forwardFlopsPerSample;
        report.trainStepFlopsPerSample = info->trainStepFlopsPerSample;
      }
      if (Status s = timeLibrary(*model, o, batch, result, err); !s)
        return reportError(err, command, s.error());
      // A cached peak below what the library reached was measured on a busy
      // machine: measure it again (once), before the per-op rates use it.
      if (!o.remeasurePeak && !report.peakRemeasured &&
          bench::ranAbovePeak(report, result)) {
        err << "cnnc bench: measuring the FMA peak again (the cached one is "
               "below what the library reached)\n";
        measureFmaPeaks(report, true);
        report.peakRemeasured = true;
      }
      if (!o.network) {
        Expected<std::optional<bench::ProfilerLibrary>> profiler =
            bench::ProfilerLibrary::open(library);
        if (!profiler)
          return reportError(err, command, profiler.error());
        if (report.device != "cpu") {
          report.notes.push_back(
              "Per-op times are not measured on a GPU: Halide's sampling "
              "profiler samples the host, where kernels only get launched.");
        } else if (*profiler) {
          report.notes.push_back(
              library + " was built with --profile: its whole-pipeline "
                        "timings include the profiler's overhead.");
          if (Status s = profileLibrary(*model, **profiler, o, batch,
                                        report.peakAllThreads, result, err);
              !s)
            return reportError(err, command, s.error());
        } else {
          report.notes.push_back(
              "Per-op times need the network's YAML (cnnc bench "
              "NET.yaml) or a library built with `cnnc NET.yaml -o "
              "NET.so --profile`.");
        }
      }
    }
    if (o.network) {
      Expected<ModelLibrary> model = loadWithThreads(profiled, o.threads);
      if (!model)
        return reportError(err, command, model.error());
      Expected<std::optional<bench::ProfilerLibrary>> profiler =
          bench::ProfilerLibrary::open(profiled);
      if (!profiler)
        return reportError(err, command, profiler.error());
      if (!*profiler)
        return reportError(
            err, command,
            Error(profiled + ": the profiled build has no cnnc_profile_*"));
      if (Status s = profileLibrary(*model, **profiler, o, batch,
                                    report.peakAllThreads, result, err);
          !s)
        return reportError(err, command, s.error());
    }
    report.results.push_back(std::move(result));
  }
  if (o.json)
    out << bench::toJson(report) << "\n";
  else
    bench::printReport(report, out);
  return 0;
}

} // namespace cnnc::rt
