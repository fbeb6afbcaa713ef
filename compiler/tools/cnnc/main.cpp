// cnnc: the command line. `cnnc net.yaml -o net.so` compiles; subcommands
// summarise, initialise, run, train, evaluate and benchmark models.
#include "cnnc/Commands.h"
#include "cnnc/driver/LibraryBuilder.h"
#include "cnnc/driver/ModelDescription.h"
#include "cnnc/driver/Summary.h"
#include "cnnc/importer/Importer.h"

#include "cnn/CnnDialect.h"
#include "cnn/CnnPasses.h"
#include "mlir/Dialect/StandardOps/IR/Ops.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

const char *const kUsage = R"(usage:
  cnnc NET.yaml -o NET.so [--target host|host-cuda|...]
                          [--schedule manual|auto:Mullapudi2016|auto:Li2018|
                                      auto:Adams2019]
                          [--batch-estimate N] [--autoschedule-timeout S]
                          [--segment-ops N]
                          [--emit mlir|train-mlir|shapes|halide-stmt|
                                  halide-train-stmt|header]
                          [--profile] [-v]
  cnnc summary NET.yaml
  cnnc init NET.so -o W.safetensors [--seed N]
  cnnc run NET.so --weights W.safetensors --input X.npy -o Y.npy [--threads T]
  cnnc train NET.so --data SPEC [--val-data SPEC | --val-split F]
                    [--weights W [--skip GLOB,...]] [--epochs N] [--batch-size B]
                    [--lr X] [--momentum M] [--weight-decay D] [--nesterov]
                    [--no-shuffle] [--seed S] [--resume CKPT]
                    [--keep-best | --no-keep-best] -o W.safetensors
  cnnc eval NET.so --weights W.safetensors --data SPEC
  cnnc bench NET.yaml|NET.so [--batch N] [--threads T] [--runs R] [--json]
                    [--compare manual,auto:Li2018,...] [--remeasure-peak]

Compiles a network described in YAML into a shared library with a C ABI
(see `--emit header`) that runs inference and whole SGD training steps, and
initialises, runs, trains, evaluates and benchmarks such libraries. Data specs:
fashion-mnist:DIR, cifar10:DIR, npy:IMAGES.npy,LABELS.npy, folder:DIR. Run a
subcommand with --help for its options.
  -o FILE          output file (the library; or the emitted text, default stdout)
  --emit KIND      instead of a library, print: mlir (the cnn dialect with every
                   inferred shape), train-mlir (plus func @train_step: forward,
                   loss, backward, SGD update), shapes (one line per layer), halide-stmt
                   (Halide's lowered forward pipeline, each segment),
                   halide-train-stmt (the training step's), header (the C header)
  --target T       Halide target (default host)
  --schedule S     schedule policy: manual (the default hand-written schedules)
                   or auto:NAME, one of Halide 14's autoschedulers Mullapudi2016,
                   Li2018 or Adams2019, for the forward pipeline of batches of at
                   least the batch estimate (the training step and smaller
                   batches use the manual schedules)
  --batch-estimate N
                   the batch size the autoschedulers optimise for (default 64)
  --autoschedule-timeout S
                   stop with an error if autoscheduling and compiling the
                   forward pipeline takes longer than S seconds (default 120)
  --segment-ops N  split functions of more than 2N ops into Halide pipelines
                   of about N ops, compiled in parallel (default 32; 0: one
                   pipeline each): Halide's compile time grows with the
                   square of a pipeline's length
  --profile        build with Halide's sampling profiler and the extra
                   cnnc_profile_* functions, for per-op times in `cnnc bench`
  -v               print the compile steps and their times
)";

int usageError(const std::string &message) {
  std::cerr << "cnnc: error: " << message << "\n"
            << "run 'cnnc --help' for usage\n";
  return 1;
}

/// An MLIR context with the dialects and diagnostics cnnc needs. Located
/// diagnostics print as FILE:LINE:COL: error: ... with the source line.
struct Frontend {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler{sourceMgr, &context};
  cnnc::NetworkSpec spec;
  Frontend() {
    context.getOrLoadDialect<cnn::CnnDialect>();
    context.getOrLoadDialect<mlir::StandardOpsDialect>();
  }
  mlir::OwningOpRef<mlir::ModuleOp> import(const std::string &path) {
    return cnnc::importNetworkFile(path, sourceMgr, context, &spec);
  }
};

bool writeOutput(const std::string &path, const std::string &text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return true;
  }
  std::error_code ec;
  llvm::ToolOutputFile file(path, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    std::cerr << "cnnc: error: cannot write '" << path << "': " << ec.message()
              << "\n";
    return false;
  }
  file.os() << text;
  file.keep();
  return true;
}

std::string shapesText(const cnnc::NetworkSummary &summary) {
  std::string s = "input " + cnn::shape::format(summary.inputShape) + "\n";
  for (const cnnc::LayerSummary &layer : summary.layers)
    s += layer.name + " " + layer.kind + " " +
         cnn::shape::format(layer.outputShape) + "\n";
  return s;
}

/// A --schedule value: manual or auto:NAME of an available autoscheduler.
bool parseSchedule(const std::string &text, cnnc::SchedulePolicy &policy,
                   std::string &error) {
  if (text == "manual") {
    policy = cnnc::SchedulePolicy::manual();
    return true;
  }
  std::string valid = "manual";
  for (const std::string &n : cnnc::availableAutoschedulers())
    valid += ", auto:" + n;
  const std::string prefix = "auto:";
  std::string name =
      text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : "";
  const auto &names = cnnc::availableAutoschedulers();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    error = "unknown schedule '" + text + "' (available: " + valid + ")";
    return false;
  }
  policy = cnnc::SchedulePolicy::automatic(name);
  return true;
}

int compileCommand(const std::vector<std::string> &args) {
  std::string input, output, emit;
  cnnc::CompileOptions options;
  int batchEstimate = 64;
  int segmentOps = cnnc::kDefaultSegmentOps;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto value = [&](const char *flag) -> const std::string * {
      if (i + 1 >= args.size())
        return nullptr;
      (void)flag;
      return &args[++i];
    };
    if (a == "-o" || a == "--emit" || a == "--target" || a == "--schedule" ||
        a == "--batch-estimate" || a == "--autoschedule-timeout" ||
        a == "--segment-ops") {
      const std::string *v = value(a.c_str());
      if (!v)
        return usageError("'" + a + "' needs a value");
      if (a == "-o")
        output = *v;
      else if (a == "--emit")
        emit = *v;
      else if (a == "--target")
        options.target = *v;
      else if (a == "--batch-estimate") {
        char *end = nullptr;
        long n = std::strtol(v->c_str(), &end, 10);
        if (v->empty() || *end || n < 1 || n > (1 << 20))
          return usageError("--batch-estimate needs a positive integer, not '" +
                            *v + "'");
        batchEstimate = static_cast<int>(n);
      } else if (a == "--segment-ops") {
        char *end = nullptr;
        long n = std::strtol(v->c_str(), &end, 10);
        if (v->empty() || *end || n < 0 || n > (1 << 20))
          return usageError("--segment-ops needs a number of ops (0: one "
                            "pipeline), not '" +
                            *v + "'");
        segmentOps = static_cast<int>(n);
      } else if (a == "--autoschedule-timeout") {
        char *end = nullptr;
        double seconds = std::strtod(v->c_str(), &end);
        if (v->empty() || *end || !(seconds > 0) || seconds > 86400)
          return usageError("--autoschedule-timeout needs a number of seconds "
                            "in (0, 86400], not '" +
                            *v + "'");
        options.autoscheduleSeconds = seconds;
      } else {
        std::string error;
        if (!parseSchedule(*v, options.schedule, error))
          return usageError(error);
      }
    } else if (a == "-v" || a == "--verbose") {
      options.verbose = true;
    } else if (a == "--profile") {
      options.profile = true;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return usageError("unknown option '" + a + "'");
    } else if (input.empty()) {
      input = a;
    } else {
      return usageError("more than one input file ('" + input + "', '" + a +
                        "')");
    }
  }
  if (input.empty())
    return usageError("no input file");
  options.schedule.batchEstimate = batchEstimate;
  options.schedule.segmentOps = segmentOps;
  if (!emit.empty() && emit != "mlir" && emit != "train-mlir" &&
      emit != "shapes" && emit != "halide-stmt" &&
      emit != "halide-train-stmt" && emit != "header")
    return usageError("unknown --emit kind '" + emit +
                      "' (available: mlir, train-mlir, shapes, halide-stmt, "
                      "halide-train-stmt, "
                      "header)");
  if (emit.empty() && output.empty())
    return usageError("no output library: add -o NET.so (or --emit mlir)");

  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  Frontend frontend;
  auto module = frontend.import(input);
  if (!module)
    return 1;
  if (options.verbose)
    std::cerr << "cnnc: imported " << input << " (" << seconds() << " s)\n";

  if (emit == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    os << "\n";
    return writeOutput(output, os.str()) ? 0 : 1;
  }
  if (emit == "train-mlir") {
    mlir::PassManager pm(&frontend.context);
    pm.addPass(cnn::createAutodiffPass());
    if (mlir::failed(pm.run(*module)))
      return 1;
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    os << "\n";
    return writeOutput(output, os.str()) ? 0 : 1;
  }
  if (emit == "shapes")
    return writeOutput(output, shapesText(cnnc::summarize(*module))) ? 0 : 1;
  if (emit == "header")
    return writeOutput(output,
                       cnnc::emitModelHeader(cnnc::describeModel(*module)))
               ? 0
               : 1;
  std::string error;
  if (emit == "halide-stmt" || emit == "halide-train-stmt") {
    std::string text;
    if (!cnnc::emitHalideStmt(*module, options, emit == "halide-train-stmt",
                              text, error)) {
      std::cerr << "cnnc: error: " << error << "\n";
      return 1;
    }
    return writeOutput(output, text) ? 0 : 1;
  }
  if (!cnnc::buildModelLibrary(*module, options, output, error)) {
    std::cerr << "cnnc: error: " << error << "\n";
    return 1;
  }
  if (options.verbose)
    std::cerr << "cnnc: wrote " << output << " (" << seconds() << " s)\n";
  return 0;
}

int summaryCommand(const std::vector<std::string> &args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: cnnc summary NET.yaml\n"
                 "Prints each layer's output shape, parameters, FLOPs, "
                 "receptive field and stride product.\n";
    return 0;
  }
  if (args.size() != 1)
    return usageError("usage: cnnc summary NET.yaml");
  Frontend frontend;
  auto module = frontend.import(args[0]);
  if (!module)
    return 1;
  cnnc::printSummary(cnnc::summarize(*module), std::cout);
  return 0;
}

/// The compiler side of `cnnc bench NET.yaml`: the runtime's command
/// compiles through these.
cnnc::rt::BenchCompiler benchCompiler() {
  using cnnc::rt::Error;
  using cnnc::rt::Status;
  cnnc::rt::BenchCompiler compiler;
  compiler.checkSchedule = [](const std::string &schedule) -> Status {
    cnnc::SchedulePolicy policy;
    std::string error;
    if (!parseSchedule(schedule, policy, error))
      return Error(error);
    return Status::success();
  };
  compiler.recipeJson =
      [](const std::string &yaml) -> cnnc::rt::Expected<std::string> {
    Frontend frontend;
    auto module = frontend.import(yaml);
    if (!module)
      return Error(yaml + ": the network has errors (see above)");
    return cnnc::describeModel(*module).trainingRecipe;
  };
  compiler.build = [](const std::string &yaml, const std::string &schedule,
                      int64_t batchEstimate, bool profile,
                      const std::string &output) -> Status {
    cnnc::CompileOptions options;
    std::string error;
    if (!parseSchedule(schedule, options.schedule, error))
      return Error(error);
    options.schedule.batchEstimate = static_cast<int>(batchEstimate);
    options.profile = profile;
    Frontend frontend;
    auto module = frontend.import(yaml);
    if (!module)
      return Error(yaml + ": the network has errors (see above)");
    if (!cnnc::buildModelLibrary(*module, options, output, error))
      return Error(yaml + ": " + error);
    return Status::success();
  };
  return compiler;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty())
    return usageError("no input file");
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "cnnc " CNNC_VERSION " (MLIR 14, Halide 14)\n";
    return 0;
  }
  if (command == "summary")
    return summaryCommand(rest);
  if (command == "init")
    return cnnc::rt::runInitCommand(rest, std::cout, std::cerr);
  if (command == "run")
    return cnnc::rt::runRunCommand(rest, std::cout, std::cerr);
  if (command == "train")
    return cnnc::rt::runTrainCommand(rest, std::cout, std::cerr);
  if (command == "eval")
    return cnnc::rt::runEvalCommand(rest, std::cout, std::cerr);
  if (command == "bench")
    return cnnc::rt::runBenchCommand(rest, std::cout, std::cerr,
                                     benchCompiler());
  return compileCommand(args);
}
