#include "cnnc/driver/LibraryBuilder.h"
#include "cnnc/driver/ModelDescription.h"
#include "cnnc/driver/ProfileWrapper.h"
#include "cnnc/driver/SegmentGlue.h"
#include "cnnc/driver/TimeLimit.h"
#include "cnnc/halide/Backend.h"

#include "cnn/CnnPasses.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace cnnc {
namespace {

// Not cnnc_*: only the ABI functions are exported.
const char *const kForwardFunction = "model_forward_pipeline";
const char *const kTrainFunction = "model_train_pipeline";
const char *const kSmallForwardFunction = "model_forward_small_pipeline";

bool writeFile(const std::string &path, const std::string &text,
               std::string &error) {
  std::ofstream os(path, std::ios::binary);
  os << text;
  os.close();
  if (!os) {
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

std::string readFile(const std::string &path) {
  std::ifstream is(path);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

/// A scratch directory removed when this goes out of scope.
struct ScratchDir {
  llvm::SmallString<128> path;
  ~ScratchDir() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
};

/// Links the objects and the wrapper into a shared library exporting only
/// the cnnc_* symbols, so two models can live in one process.
bool link(const std::vector<std::string> &inputs, const std::string &output,
          const std::string &soname, const std::string &scratch, bool verbose,
          std::string &error) {
  const char *ccEnv = std::getenv("CNNC_CC");
  std::string cc = ccEnv && *ccEnv ? ccEnv : "cc";
  auto program = llvm::sys::findProgramByName(cc);
  if (!program) {
    error = "cannot find the C compiler '" + cc +
            "' that links the library (set CNNC_CC or install build-essential)";
    return false;
  }
  std::string versionScript = scratch + "/exports.map";
  if (!writeFile(versionScript, "{ global: cnnc_*; local: *; };\n", error))
    return false;
  std::vector<std::string> args = {*program,
                                   "-shared",
                                   "-fPIC",
                                   "-O2",
                                   "-I" CNNC_HALIDE_INCLUDE_DIR,
                                   "-Wl,--version-script=" + versionScript,
                                   "-Wl,-soname," + soname,
                                   "-o",
                                   output};
  args.insert(args.end(), inputs.begin(), inputs.end());
  for (const char *lib : {"-lpthread", "-ldl", "-lm"})
    args.push_back(lib);
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  if (verbose) {
    for (const std::string &a : args)
      llvm::errs() << a << " ";
    llvm::errs() << "\n";
  }
  std::string log = scratch + "/link.log";
  llvm::Optional<llvm::StringRef> redirects[] = {
      llvm::None, llvm::StringRef(log), llvm::StringRef(log)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*program, argRefs, llvm::None, redirects,
                                     0, 0, &message);
  if (rc != 0) {
    error = "linking with '" + cc + "' failed" +
            (message.empty() ? "" : ": " + message) + "\n" + readFile(log);
    return false;
  }
  return true;
}

/// Runs cnn-autodiff to add func @train_step, reporting its diagnostics.
bool addTrainStep(mlir::ModuleOp module, std::string &error) {
  if (module.lookupSymbol("train_step"))
    return true;
  mlir::PassManager pm(module.getContext());
  pm.addPass(cnn::createAutodiffPass());
  if (mlir::failed(pm.run(module))) {
    error = "building the training step failed (see the messages above)";
    return false;
  }
  return true;
}

} // namespace

namespace {
/// Whether cnnc has schedules for `target` (written `text`); else `error`
/// says so.
bool hasBackend(const std::string &text, const Halide::Target &target,
                std::string &error) {
  std::string why;
  if (hl::selectBackend(target, why))
    return true;
  error = "target '" + text + "'" +
          (text == target.to_string() ? "" : " (" + target.to_string() + ")") +
          " " + why;
  return false;
}
} // namespace

bool parseTarget(const std::string &text, Halide::Target &target,
                 std::string &error) {
  if (text == "host") {
    target = Halide::get_host_target();
    return hasBackend(text, target, error);
  }
  std::string spec = text;
  if (text.rfind("host-", 0) == 0)
    spec = Halide::get_host_target().to_string() + text.substr(4);
  if (!Halide::Target::validate_target_string(spec)) {
    error = "unknown target '" + text +
            "' (examples: host, host-cuda, x86-64-linux-avx2)";
    return false;
  }
  target = Halide::Target(spec);
  return hasBackend(text, target, error);
}

namespace {

/// Lowers the forward pipeline with the policy's autoscheduler and compiles
/// it to `object`, in a child process limited to
/// `options.autoscheduleSeconds`: a search that runs away is stopped.
bool compileAutoscheduledForward(mlir::ModuleOp module,
                                 const Halide::Target &target,
                                 const Halide::Target &pipelineTarget,
                                 const CompileOptions &options,
                                 const std::string &object,
                                 std::string &error) {
  auto work = [&](std::string &why) {
    LoweredPipeline forward;
    if (!lowerForward(module, target, options.schedule, forward, why))
      return false;
    try {
      PipelineSegment only = forward.segments.at(0);
      only.pipeline.compile_to_object(object, only.arguments, kForwardFunction,
                                      pipelineTarget);
    } catch (const Halide::Error &e) {
      why = std::string("Halide compilation failed: ") + e.what();
      return false;
    }
    return true;
  };
  std::string why;
  if (runWithTimeLimit(work, options.autoscheduleSeconds, why))
    return true;
  error = "autoscheduling the forward pipeline with " +
          options.schedule.autoscheduler + ": " + why;
  if (why.rfind("did not finish", 0) == 0)
    error += " (raise --autoschedule-timeout, or use --schedule manual)";
  return false;
}

/// The manual schedules, segmented as `options` asks: for the pipelines the
/// autoschedulers do not handle.
SchedulePolicy manualPolicy(const CompileOptions &options) {
  SchedulePolicy policy = SchedulePolicy::manual();
  policy.segmentOps = options.schedule.segmentOps;
  return policy;
}

} // namespace

bool buildModelLibrary(mlir::ModuleOp module, const CompileOptions &options,
                       const std::string &outputPath, std::string &error) {
  Halide::Target target;
  if (!parseTarget(options.target, target, error))
    return false;
  // An autoscheduled forward pipeline is lowered and compiled below, in a
  // child process with a time limit.
  const bool autoForward = options.schedule.isAuto();
  LoweredPipeline forward;
  if (!autoForward &&
      !lowerForward(module, target, options.schedule, forward, error))
    return false;
  // The autoschedulers split the batch with ShiftInwards tails, which need
  // at least a split factor of images (a smaller batch fails Halide's bounds
  // check). Their factors do not exceed the batch estimate, so smaller
  // batches run a second, manually scheduled forward pipeline.
  LoweredPipeline smallForward;
  if (autoForward &&
      !lowerForward(module, target, manualPolicy(options), smallForward, error))
    return false;
  ModelDescription model = describeModel(module);
  LoweredPipeline train;
  if (model.hasTrainStep) {
    if (!addTrainStep(module, error))
      return false;
    // The training step decides which buffers it updates.
    model = describeModel(module);
    // The autoschedulers schedule the forward pipeline only. On the training
    // step Halide 14's plugins fail (Mullapudi2016: an internal error;
    // Li2018: atomic predicated stores it cannot compile; Adams2019: minutes
    // of search even greedy, then an error), so it keeps the manual
    // schedules. lowerTrainStep itself supports auto policies (estimates on
    // every input, Param and output) for when they work.
    if (!lowerTrainStep(module, target, manualPolicy(options), train, error))
      return false;
  }

  ScratchDir scratch;
  if (auto ec = llvm::sys::fs::createUniqueDirectory("cnnc", scratch.path)) {
    error = "cannot create a temporary directory: " + ec.message();
    return false;
  }
  std::string dir = scratch.path.str().str();
  std::string forwardObject = dir + "/forward.o";
  std::string runtimeObject = dir + "/halide_runtime.o";
  std::string wrapperSource = dir + "/model.c";
  std::vector<std::string> objects = {wrapperSource, runtimeObject};
  if (autoForward)
    objects.push_back(forwardObject);
  // The profiler needs the feature on the pipelines (they report each
  // Func) and on the runtime (its sampling thread and statistics).
  const Halide::Target runtimeTarget =
      options.profile ? target.with_feature(Halide::Target::Profile) : target;
  const Halide::Target pipelineTarget =
      runtimeTarget.with_feature(Halide::Target::NoRuntime);
  if (autoForward &&
      !compileAutoscheduledForward(module, target, pipelineTarget, options,
                                   forwardObject, error))
    return false;
  // Every segment of every pipeline, and the runtime, compile in parallel
  // child processes (one per core).
  std::vector<std::pair<std::string, const LoweredPipeline *>> pipelines;
  if (!autoForward)
    pipelines.push_back({kForwardFunction, &forward});
  else
    pipelines.push_back({kSmallForwardFunction, &smallForward});
  if (model.hasTrainStep)
    pipelines.push_back({kTrainFunction, &train});
  std::vector<std::function<bool(std::string &)>> jobs;
  for (const auto &[name, pipeline] : pipelines) {
    const size_t count = pipeline->segments.size();
    for (size_t s = 0; s < count; ++s) {
      const std::string function = segmentFunctionName(name, s, count);
      const std::string object = dir + "/" + function + ".o";
      objects.push_back(object);
      PipelineSegment segment = pipeline->segments[s];
      jobs.push_back([segment, object, function,
                      pipelineTarget](std::string &why) mutable {
        try {
          segment.pipeline.compile_to_object(object, segment.arguments,
                                             function, pipelineTarget);
        } catch (const Halide::Error &e) {
          why = std::string("Halide compilation failed: ") + e.what();
          return false;
        }
        return true;
      });
    }
    if (options.verbose)
      llvm::errs() << "cnnc: " << name << ": " << count
                   << " pipeline segment(s), " << pipeline->intermediates.size()
                   << " intermediate tensor(s)\n";
  }
  jobs.push_back([runtimeObject, runtimeTarget](std::string &why) {
    try {
      Halide::compile_standalone_runtime(runtimeObject, runtimeTarget);
    } catch (const Halide::Error &e) {
      why = std::string("Halide compilation failed: ") + e.what();
      return false;
    }
    return true;
  });
  const unsigned cores = std::thread::hardware_concurrency();
  if (!runInParallel(jobs, cores ? int(cores) : 1, error))
    return false;
  const std::string glue = emitSegmentGlue(pipelines);
  if (!glue.empty()) {
    const std::string glueSource = dir + "/segments.c";
    if (!writeFile(glueSource, glue, error))
      return false;
    objects.push_back(glueSource);
  }
  std::string wrapper = emitModelWrapper(
      model, kForwardFunction, kTrainFunction,
      autoForward ? kSmallForwardFunction : "", options.schedule.batchEstimate);
  if (options.profile) {
    // The autoscheduled forward pipeline has the manual one's ops.
    std::vector<ProfiledOp> ops =
        autoForward ? smallForward.profiledOps : forward.profiledOps;
    for (const ProfiledOp &op : train.profiledOps)
      if (llvm::none_of(ops, [&](const ProfiledOp &known) {
            return known.funcPrefix == op.funcPrefix;
          }))
        ops.push_back(op);
    wrapper += emitProfileWrapper(ops);
  }
  if (!writeFile(wrapperSource, wrapper, error))
    return false;

  // Link next to the destination, then rename: a failed build never leaves
  // a half-written library behind.
  std::string partial = outputPath + ".partial";
  std::string soname = llvm::sys::path::filename(outputPath).str();
  if (!link(objects, partial, soname, dir, options.verbose, error)) {
    llvm::sys::fs::remove(partial);
    return false;
  }
  if (auto ec = llvm::sys::fs::rename(partial, outputPath)) {
    llvm::sys::fs::remove(partial);
    error = "cannot write '" + outputPath + "': " + ec.message();
    return false;
  }
  return true;
}

bool emitHalideStmt(mlir::ModuleOp module, const CompileOptions &options,
                    bool trainStep, std::string &text, std::string &error) {
  Halide::Target target;
  if (!parseTarget(options.target, target, error))
    return false;
  LoweredPipeline forward;
  if (!trainStep &&
      !lowerForward(module, target, options.schedule, forward, error))
    return false;
  // The training step keeps the manual schedules (see buildModelLibrary).
  if (trainStep &&
      (!addTrainStep(module, error) ||
       !lowerTrainStep(module, target, manualPolicy(options), forward, error)))
    return false;
  const std::string name = trainStep ? kTrainFunction : kForwardFunction;
  llvm::SmallString<128> path;
  if (auto ec = llvm::sys::fs::createTemporaryFile("cnnc", "stmt", path)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  try {
    const size_t count = forward.segments.size();
    for (size_t s = 0; s < count; ++s) {
      PipelineSegment segment = forward.segments[s];
      segment.pipeline.compile_to_lowered_stmt(
          path.str().str(), segment.arguments, Halide::Text, target);
      if (count > 1)
        text += "// segment " + std::to_string(s) + " of " +
                std::to_string(count) + ": " +
                segmentFunctionName(name, s, count) + "\n";
      text += readFile(path.str().str());
    }
  } catch (const Halide::Error &e) {
    llvm::sys::fs::remove(path);
    error = std::string("Halide: ") + e.what();
    return false;
  }
  llvm::sys::fs::remove(path);
  return true;
}

} // namespace cnnc
