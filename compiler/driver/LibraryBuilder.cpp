#include "cnnc/driver/LibraryBuilder.h"
#include "cnnc/driver/ModelDescription.h"
#include "cnnc/driver/ProfileWrapper.h"
#include "cnnc/driver/SegmentGlue.h"
#include "cnnc/driver/TimeLimit.h"
#include "cnnc/driver/WrapperTables.h"
#include "cnnc/halide/Backend.h"

#include "cnn/CnnPasses.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
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

/// Where runTool keeps the output of the step called `name`.
std::string logName(std::string name) {
  std::replace(name.begin(), name.end(), ' ', '-');
  return name + ".log";
}

/// Runs `tool` (a program name, found on PATH) for the step called `name`
/// with `args`, its output in `scratch`/logName(name), which the error
/// quotes.
bool runTool(const std::string &tool, const std::vector<std::string> &args,
             const std::string &scratch, const std::string &name, bool verbose,
             std::string &error) {
  auto program = llvm::sys::findProgramByName(tool);
  if (!program) {
    error = "cannot find '" + tool +
            "', which builds the library (install build-essential" +
            (tool == "cc" ? ", or set CNNC_CC)" : ")");
    return false;
  }
  std::vector<std::string> all = {*program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<llvm::StringRef> argRefs(all.begin(), all.end());
  if (verbose) {
    for (const std::string &a : all)
      llvm::errs() << a << " ";
    llvm::errs() << "\n";
  }
  std::string log = scratch + "/" + logName(name);
  llvm::Optional<llvm::StringRef> redirects[] = {
      llvm::None, llvm::StringRef(log), llvm::StringRef(log)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*program, argRefs, llvm::None, redirects,
                                     0, 0, &message);
  if (rc != 0) {
    error = name + " with '" + tool + "' failed" +
            (message.empty() ? "" : ": " + message) + "\n" + readFile(log);
    return false;
  }
  return true;
}

/// The C compiler (CNNC_CC, default cc) and its flags for the wrapper:
/// CNNC_CFLAGS adds some (a sanitizer, -g), split at spaces like make's
/// CFLAGS.
std::pair<std::string, std::vector<std::string>>
compilerAndFlags(const std::string &scratch) {
  const char *ccEnv = std::getenv("CNNC_CC");
  std::vector<std::string> flags = {
      "-fPIC", "-O2", "-I" CNNC_HALIDE_INCLUDE_DIR, "-I" + scratch};
  if (const char *extra = std::getenv("CNNC_CFLAGS")) {
    llvm::SmallVector<llvm::StringRef, 8> words;
    llvm::StringRef(extra).split(words, ' ', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef word : words)
      flags.push_back(word.str());
  }
  return {ccEnv && *ccEnv ? ccEnv : "cc", flags};
}

/// Links the objects and the wrapper into a shared library exporting only
/// the ABI's functions, so two models can live in one process: `exported`
/// names them (from linkRelocatable), or, when empty, they are the cnnc_*
/// symbols.
bool linkShared(const std::vector<std::string> &inputs,
                const std::string &output, const std::string &soname,
                const std::vector<std::string> &exported,
                const std::string &scratch, bool verbose, std::string &error) {
  std::string globals = "cnnc_*;";
  if (!exported.empty()) {
    globals.clear();
    for (const std::string &name : exported)
      globals += " " + name + ";";
  }
  std::string versionScript = scratch + "/exports.map";
  if (!writeFile(versionScript, "{ global:" + globals + " local: *; };\n",
                 error))
    return false;
  auto [cc, args] = compilerAndFlags(scratch);
  for (const std::string &flag :
       {std::string("-shared"), "-Wl,--version-script=" + versionScript,
        "-Wl,-soname," + soname, std::string("-o"), output})
    args.push_back(flag);
  args.insert(args.end(), inputs.begin(), inputs.end());
  for (const char *lib : {"-lpthread", "-ldl", "-lm"})
    args.push_back(lib);
  return runTool(cc, args, scratch, "linking", verbose, error);
}

/// The objects and the wrapper as one relocatable object whose cnnc_*
/// functions are renamed `symbolPrefix`_* (kept as they are without one):
/// what a prefixed or static library is made of.
bool linkRelocatable(const std::vector<std::string> &inputs,
                     const std::string &output, const std::string &symbolPrefix,
                     const std::string &scratch, bool verbose,
                     std::vector<std::string> &exported, std::string &error) {
  auto [cc, args] = compilerAndFlags(scratch);
  // COMDAT groups (the Halide runtime's inline vtables) become plain
  // sections: another model's object has groups of the same names, and the
  // final link would keep one and leave the other's local references
  // dangling.
  for (const char *flag :
       {"-r", "-nostdlib", "-Wl,--force-group-allocation", "-o"})
    args.push_back(flag);
  args.push_back(output);
  args.insert(args.end(), inputs.begin(), inputs.end());
  if (!runTool(cc, args, scratch, "linking", verbose, error))
    return false;
  // The ABI's functions: the object's defined global cnnc_* symbols. Every
  // other symbol it defines or uses must keep its name apart from theirs.
  if (!runTool("nm", {"-g", "--format=posix", output}, scratch,
               "listing symbols", verbose, error))
    return false;
  std::string listing = readFile(scratch + "/" + logName("listing symbols"));
  std::string renames;
  std::set<std::string> others;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name, type;
    fields >> name >> type;
    if (name.rfind("cnnc_", 0) != 0 || type == "U") {
      others.insert(name);
      continue;
    }
    std::string renamed =
        symbolPrefix.empty() ? name : symbolPrefix + name.substr(4);
    renames += name + " " + renamed + "\n";
    exported.push_back(renamed);
  }
  if (exported.empty()) {
    error = "the linked object defines no cnnc_* function";
    return false;
  }
  for (const std::string &name : exported)
    if (others.count(name)) {
      error = "--prefix " + symbolPrefix + " would name a function " + name +
              ", which the library already uses; choose another prefix";
      return false;
    }
  if (symbolPrefix.empty())
    return true;
  std::string map = scratch + "/renames.txt";
  return writeFile(map, renames, error) &&
         runTool("objcopy", {"--redefine-syms=" + map, output}, scratch,
                 "renaming", verbose, error);
}

/// A static archive of one object that defines the ABI's functions and
/// nothing else global (the Halide runtime and the pipelines are made local
/// to it), so archives of several models link into one program.
bool archiveStatic(const std::vector<std::string> &inputs,
                   const std::string &output, const std::string &symbolPrefix,
                   const std::string &scratch, bool verbose,
                   std::string &error) {
  const std::string object = scratch + "/model.o";
  std::vector<std::string> exported;
  if (!linkRelocatable(inputs, object, symbolPrefix, scratch, verbose, exported,
                       error))
    return false;
  std::string keep;
  for (const std::string &name : exported)
    keep += name + "\n";
  const std::string keepFile = scratch + "/exported.txt";
  llvm::sys::fs::remove(output); // ar would add to an old archive
  return writeFile(keepFile, keep, error) &&
         runTool("objcopy", {"--keep-global-symbols=" + keepFile, object},
                 scratch, "hiding symbols", verbose, error) &&
         runTool("ar", {"rcs", output, object}, scratch, "archiving", verbose,
                 error);
}

/// Adds func @train_step with the training pipeline
/// (cnn::buildTrainingPipeline: shape inference, then cnn-autodiff),
/// reporting its diagnostics.
bool addTrainStep(mlir::ModuleOp module, std::string &error) {
  if (module.lookupSymbol("train_step"))
    return true;
  mlir::PassManager pm(module.getContext());
  cnn::buildTrainingPipeline(pm);
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
bool compileAutoscheduledForward(mlir::ModuleOp module, const ModelAbi &abi,
                                 const Halide::Target &target,
                                 const Halide::Target &pipelineTarget,
                                 const CompileOptions &options,
                                 const std::string &object,
                                 std::string &error) {
  auto work = [&](std::string &why) {
    LoweredPipeline forward;
    if (!lowerForward(module, abi, target, options.schedule, forward, why))
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
  policy.segments = options.schedule.segments;
  return policy;
}

/// A model lowered to Halide, before its pipelines are compiled.
struct LoweredModel {
  ModelDescription description;
  /// The forward pipeline; with an autoscheduler, the manually scheduled
  /// one for small batches (the autoscheduled one is lowered in a child
  /// process, see compileAutoscheduledForward).
  LoweredPipeline forward;
  std::optional<LoweredPipeline> train;
};

/// Builds the training step (if the model has one and the options do not
/// leave it out) and lowers every pipeline the library needs.
bool lowerModel(mlir::ModuleOp module, const CompileOptions &options,
                const Halide::Target &target, LoweredModel &model,
                std::string &error) {
  if (options.inferenceOnly) {
    // A module read from MLIR may hold the step already (--emit train-mlir).
    if (mlir::Operation *step = module.lookupSymbol("train_step"))
      step->erase();
  } else if (describeAbi(module).trainable() && !addTrainStep(module, error)) {
    return false;
  }
  model.description = describeModel(module);
  const ModelAbi &abi = model.description.abi;
  // The autoschedulers split the batch with ShiftInwards tails, which need
  // at least a split factor of images (a smaller batch fails Halide's bounds
  // check). Their factors do not exceed the batch estimate, so smaller
  // batches run a second, manually scheduled forward pipeline.
  const SchedulePolicy forwardPolicy =
      options.schedule.isAuto() ? manualPolicy(options) : options.schedule;
  if (!lowerForward(module, abi, target, forwardPolicy, model.forward, error))
    return false;
  if (!abi.train)
    return true;
  // The autoschedulers schedule the forward pipeline only. On the training
  // step Halide 14's plugins fail (Mullapudi2016: an internal error;
  // Li2018: atomic predicated stores it cannot compile; Adams2019: minutes
  // of search even greedy, then an error), so it keeps the manual
  // schedules. lowerTrainStep itself supports auto policies (estimates on
  // every input, Param and output) for when they work.
  model.train.emplace();
  return lowerTrainStep(module, abi, target, manualPolicy(options),
                        *model.train, error);
}

/// A job compiling each segment of `pipeline` (named `name`) to an object in
/// `dir`, whose path is added to `objects`.
void addSegmentJobs(const std::string &name, const LoweredPipeline &pipeline,
                    const Halide::Target &pipelineTarget,
                    const std::string &dir, std::vector<std::string> &objects,
                    std::vector<std::function<bool(std::string &)>> &jobs) {
  const size_t count = pipeline.segments.size();
  for (size_t s = 0; s < count; ++s) {
    const std::string function = segmentFunctionName(name, s, count);
    const std::string object = dir + "/" + function + ".o";
    objects.push_back(object);
    PipelineSegment segment = pipeline.segments[s];
    jobs.push_back(
        [segment, object, function, pipelineTarget](std::string &why) mutable {
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
}

/// Writes the wrapper's sources and the model's tables into `dir`; returns
/// the path of the source to compile.
bool writeWrapper(
    const std::string &dir, const LoweredModel &model,
    const WrapperPipelines &functions,
    const std::vector<std::pair<std::string, const LoweredPipeline *>>
        &pipelines,
    bool profile, std::string &source, std::string &error) {
  if (auto ec = llvm::sys::fs::create_directories(dir + "/cnnc")) {
    error = "cannot create a temporary directory: " + ec.message();
    return false;
  }
  for (const auto &[file, text] : wrapperSources())
    if (!writeFile(dir + "/" + file, text, error))
      return false;
  std::string extra = emitSegmentGlue(pipelines);
  if (profile) {
    std::vector<ProfiledOp> ops = model.forward.profiledOps;
    if (model.train)
      for (const ProfiledOp &op : model.train->profiledOps)
        if (llvm::none_of(ops, [&](const ProfiledOp &known) {
              return known.funcPrefix == op.funcPrefix;
            }))
          ops.push_back(op);
    extra += emitProfileTables(ops);
  }
  source = dir + "/" + kWrapperMainSource;
  return writeFile(dir + "/model_tables.h",
                   emitModelTables(model.description, functions, extra), error);
}

} // namespace

bool buildModelLibrary(mlir::ModuleOp module, const CompileOptions &options,
                       const std::string &outputPath, std::string &error) {
  Halide::Target target;
  if (!parseTarget(options.target, target, error))
    return false;
  LoweredModel model;
  if (!lowerModel(module, options, target, model, error))
    return false;

  ScratchDir scratch;
  if (auto ec = llvm::sys::fs::createUniqueDirectory("cnnc", scratch.path)) {
    error = "cannot create a temporary directory: " + ec.message();
    return false;
  }
  const std::string dir = scratch.path.str().str();
  const std::string runtimeObject = dir + "/halide_runtime.o";
  std::vector<std::string> objects = {runtimeObject};
  // The profiler needs the feature on the pipelines (they report each
  // Func) and on the runtime (its sampling thread and statistics).
  const Halide::Target runtimeTarget =
      options.profile ? target.with_feature(Halide::Target::Profile) : target;
  const Halide::Target pipelineTarget =
      runtimeTarget.with_feature(Halide::Target::NoRuntime);
  // The pipelines the ABI calls, and those this process compiles.
  WrapperPipelines functions;
  functions.forward = kForwardFunction;
  functions.target = target.to_string();
  std::string why;
  if (std::unique_ptr<hl::Backend> backend = hl::selectBackend(target, why);
      backend && backend->machine().gpu) {
    const hl::GpuModel &gpu = *backend->machine().gpu;
    const bool cuda = gpu.api == hl::GpuModel::Api::Cuda;
    functions.gpuApi = cuda ? "CUDA" : "OPENCL";
    if (cuda)
      functions.cudaMaxRegisters = gpu.registersPerThread;
  }
  std::vector<std::pair<std::string, const LoweredPipeline *>> pipelines;
  if (options.schedule.isAuto()) {
    const std::string forwardObject = dir + "/forward.o";
    if (!compileAutoscheduledForward(module, model.description.abi, target,
                                     pipelineTarget, options, forwardObject,
                                     error))
      return false;
    objects.push_back(forwardObject);
    functions.smallForward = kSmallForwardFunction;
    functions.smallBatchBelow = options.schedule.batchEstimate;
    pipelines.push_back({kSmallForwardFunction, &model.forward});
  } else {
    pipelines.push_back({kForwardFunction, &model.forward});
  }
  if (model.train) {
    functions.train = kTrainFunction;
    pipelines.push_back({kTrainFunction, &*model.train});
  }
  // Every segment of every pipeline, and the runtime, compile in parallel
  // child processes (one per core).
  std::vector<std::function<bool(std::string &)>> jobs;
  for (const auto &[name, pipeline] : pipelines) {
    addSegmentJobs(name, *pipeline, pipelineTarget, dir, objects, jobs);
    if (options.verbose)
      llvm::errs() << "cnnc: " << name << ": " << pipeline->segments.size()
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
  std::string wrapperSource;
  if (!writeWrapper(dir, model, functions, pipelines, options.profile,
                    wrapperSource, error))
    return false;
  objects.insert(objects.begin(), wrapperSource);

  // Link next to the destination, then rename: a failed build never leaves
  // a half-written library behind.
  std::string partial = outputPath + ".partial";
  std::string soname = llvm::sys::path::filename(outputPath).str();
  bool linked = false;
  if (llvm::StringRef(outputPath).endswith(".a")) {
    linked = archiveStatic(objects, partial, options.symbolPrefix, dir,
                           options.verbose, error);
  } else if (options.symbolPrefix.empty()) {
    linked =
        linkShared(objects, partial, soname, {}, dir, options.verbose, error);
  } else {
    const std::string object = dir + "/model.o";
    std::vector<std::string> exported;
    linked = linkRelocatable(objects, object, options.symbolPrefix, dir,
                             options.verbose, exported, error) &&
             linkShared({object}, partial, soname, exported, dir,
                        options.verbose, error);
  }
  if (!linked) {
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
  if (!trainStep && !lowerForward(module, describeAbi(module), target,
                                  options.schedule, forward, error))
    return false;
  // The training step keeps the manual schedules (see buildModelLibrary).
  if (trainStep && (!addTrainStep(module, error) ||
                    !lowerTrainStep(module, describeAbi(module), target,
                                    manualPolicy(options), forward, error)))
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
