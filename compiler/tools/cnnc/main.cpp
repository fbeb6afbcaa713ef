// cnnc: the command line. `cnnc net.yaml -o net.so` compiles; subcommands
// summarise, initialise, run, train, evaluate and benchmark models. This
// executable links only the runtime: the commands that compile load the
// compiler library (libcnnc_compiler.so) when they run, so running a
// compiled model loads no LLVM, MLIR or Halide.
#include "CompilerLoader.h"

#include "cnnc/Commands.h"

#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace cnnc;

const char *const kUsage = R"(usage:
  cnnc NET.yaml -o NET.so [--target host|host-cuda|host-opencl|arm-64-linux|...]
                          [--schedule manual|auto:Mullapudi2016|auto:Li2018|
                                      auto:Adams2019]
                          [--batch-estimate N] [--autoschedule-timeout S]
                          [--segment-ops N] [--prefix NAME] [--inference-only]
                          [--emit mlir|train-mlir|shapes|halide-stmt|
                                  halide-train-stmt|header]
                          [--profile] [-v]
  cnnc summary NET.yaml|NET.mlir [--batch N] [--target T]
  cnnc graph NET.yaml|NET.mlir -o NET.svg|NET.png|NET.pdf|NET.dot
                    [--left-to-right]
  cnnc import MODEL.onnx -o NET.yaml [--weights W.safetensors] [--name NAME]
  cnnc init NET.so -o W.safetensors [--seed N]
  cnnc run NET.so --weights W.safetensors --input X.npy -o Y.npy [--threads T]
  cnnc train NET.so --data SPEC [--val-data SPEC | --val-split F]
                    [--weights W [--skip GLOB,...]] [--epochs N] [--batch-size B]
                    [--lr X] [--momentum M] [--weight-decay D] [--nesterov]
                    [--no-shuffle] [--seed S] [--resume CKPT]
                    [--keep-best | --no-keep-best] -o W.safetensors
  cnnc eval NET.so --weights W.safetensors --data SPEC
  cnnc bench NET.yaml|NET.mlir|NET.so [--batch N] [--threads T] [--runs R]
                    [--json] [--compare manual,auto:Li2018,...]
                    [--remeasure-peak]
  cnnc check-grad NET.yaml|NET.mlir|NET.so [--weights W | --seed S] [--batch N]
                    [--directions K] [--tolerance T] [--threads T]

Compiles a network described in YAML (or written in the cnn dialect's MLIR,
NET.mlir, wherever NET.yaml is accepted) into a shared library with a C ABI
(see `--emit header`) that runs inference and whole SGD training steps, and
initialises, runs, trains, evaluates, benchmarks and gradient-checks such
libraries. Data specs:
fashion-mnist:DIR, cifar10:DIR, npy:IMAGES.npy,LABELS.npy, folder:DIR. Run a
subcommand with --help for its options.
  -o FILE          output file (the library; or the emitted text, default stdout)
  --emit KIND      instead of a library, print: mlir (the cnn dialect with every
                   inferred shape), train-mlir (plus func @train_step: forward,
                   loss, backward, SGD update), shapes (one line per layer), halide-stmt
                   (Halide's lowered forward pipeline, each segment),
                   halide-train-stmt (the training step's), header (the C header)
  --target T       Halide target cnnc schedules (default host): a CPU, x86-64
                   (SSE, AVX2, AVX-512) or AArch64, or a GPU through CUDA
                   (host-cuda) or OpenCL (host-opencl); the library's C ABI
                   is the same for all
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
                   of about N ops, compiled in parallel (0: one pipeline
                   each; default: functions of more than 64 ops, forward
                   passes every 32 ops, training steps every 8): Halide's
                   compile time grows with the square of a pipeline's length
  --prefix NAME    name the library's functions NAME_forward, ... instead
                   of cnnc_forward, ... (also for --emit header), so several
                   models link into one program; with -o NET.a, a static
                   archive that exports only those functions
  --inference-only leave the training step out: the library runs the forward
                   pass only and compiles in a fraction of the time; its
                   training functions report that it has none
  --profile        build with Halide's sampling profiler and the extra
                   cnnc_profile_* functions, for per-op times in `cnnc bench`
  -v               print the compile steps and their times
)";

/// The compiler's hooks for `cnnc bench NET.yaml` and `cnnc check-grad
/// NET.yaml`, loaded on first use.
rt::Expected<const rt::CompilerHooks *> loadedCompilerHooks() {
  static const rt::Expected<rt::CompilerHooks> hooks =
      []() -> rt::Expected<rt::CompilerHooks> {
    rt::Expected<tools::CompilerLibrary> library = tools::loadCompilerLibrary();
    if (!library)
      return library.status();
    rt::CompilerHooks loaded;
    library->hooks(&loaded);
    return loaded;
  }();
  if (!hooks)
    return hooks.status();
  return &*hooks;
}

/// A hook of CompilerHooks that loads the compiler when it is first called.
template <typename R, typename... Args>
std::function<R(Args...)>
loadingOnCall(std::function<R(Args...)> rt::CompilerHooks::*hook) {
  return [hook](Args... args) -> R {
    rt::Expected<const rt::CompilerHooks *> hooks = loadedCompilerHooks();
    if (!hooks)
      return hooks.status();
    return ((**hooks).*hook)(args...);
  };
}

/// Given NET.so, `cnnc bench` and `cnnc check-grad` never call these, so
/// they never load the compiler.
rt::CompilerHooks lazyCompilerHooks() {
  rt::CompilerHooks compiler;
  compiler.checkSchedule = loadingOnCall(&rt::CompilerHooks::checkSchedule);
  compiler.recipeJson = loadingOnCall(&rt::CompilerHooks::recipeJson);
  compiler.build = loadingOnCall(&rt::CompilerHooks::build);
  return compiler;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty())
    return tools::usageError("no input file");
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
  if (command == "init")
    return rt::runInitCommand(rest, std::cout, std::cerr);
  if (command == "run")
    return rt::runRunCommand(rest, std::cout, std::cerr);
  if (command == "train")
    return rt::runTrainCommand(rest, std::cout, std::cerr);
  if (command == "eval")
    return rt::runEvalCommand(rest, std::cout, std::cerr);
  if (command == "bench")
    return rt::runBenchCommand(rest, std::cout, std::cerr, lazyCompilerHooks());
  if (command == "check-grad")
    return rt::runCheckGradCommand(rest, std::cout, std::cerr,
                                   lazyCompilerHooks());
  // The compile form, `summary`, `graph` and `import`.
  rt::Expected<tools::CompilerLibrary> compiler = tools::loadCompilerLibrary();
  if (!compiler) {
    std::cerr << "cnnc: error: " << compiler.message() << "\n";
    return 1;
  }
  return compiler->main(argc, argv);
}
