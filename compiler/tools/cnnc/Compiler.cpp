// libcnnc_compiler.so: the commands of cnnc that compile (the compile form,
// `summary`, and the compiling half of `bench NET.yaml`), loaded by the cnnc
// executable only when one of them runs (see CompilerInterface.h).
#include "CompilerInterface.h"

#include "cnnc/Commands.h"
#include "cnnc/Safetensors.h"
#include "cnnc/driver/Frontend.h"
#include "cnnc/driver/GraphDrawing.h"
#include "cnnc/driver/LibraryBuilder.h"
#include "cnnc/driver/ModelDescription.h"
#include "cnnc/driver/Summary.h"
#include "cnnc/onnx/OnnxImport.h"

#include "cnn/CnnPasses.h"
#include "cnn/ShapeRules.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using cnnc::tools::usageError;

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
  std::optional<int> segmentOps;
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
        a == "--segment-ops" || a == "--prefix") {
      const std::string *v = value(a.c_str());
      if (!v)
        return usageError("'" + a + "' needs a value");
      if (a == "-o")
        output = *v;
      else if (a == "--emit")
        emit = *v;
      else if (a == "--target")
        options.target = *v;
      else if (a == "--prefix") {
        if (!cnnc::isValidSymbolPrefix(*v))
          return usageError("--prefix needs a lower-case C identifier "
                            "(letters, digits and '_') other than cnnc, "
                            "halide and model, not '" +
                            *v + "'");
        options.symbolPrefix = *v;
      } else if (a == "--batch-estimate") {
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
    } else if (a == "--inference-only") {
      options.inferenceOnly = true;
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
  if (segmentOps)
    options.schedule.segments = cnnc::SegmentSizes::uniform(*segmentOps);
  if (!emit.empty() && emit != "mlir" && emit != "train-mlir" &&
      emit != "shapes" && emit != "halide-stmt" &&
      emit != "halide-train-stmt" && emit != "header")
    return usageError("unknown --emit kind '" + emit +
                      "' (available: mlir, train-mlir, shapes, halide-stmt, "
                      "halide-train-stmt, "
                      "header)");
  if (options.inferenceOnly &&
      (emit == "train-mlir" || emit == "halide-train-stmt"))
    return usageError("--emit " + emit +
                      " shows the training step, which --inference-only "
                      "leaves out");
  if (emit.empty() && output.empty())
    return usageError("no output library: add -o NET.so (or --emit mlir)");

  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  cnnc::Frontend frontend;
  auto module = frontend.load(input);
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
    mlir::PassManager pm(&frontend.context());
    cnn::buildTrainingPipeline(pm);
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
                       cnnc::emitModelHeader(cnnc::describeModel(*module),
                                             options.symbolPrefix))
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

/// Runs Graphviz's `dot` on `dotText` to draw `output` in `format` (svg,
/// png, pdf).
bool drawWithGraphviz(const std::string &dotText, const std::string &format,
                      const std::string &output, std::string &error) {
  auto dot = llvm::sys::findProgramByName("dot");
  if (!dot) {
    error = "cannot find Graphviz's 'dot' (install graphviz), or write the "
            "graph's text with -o NET.dot";
    return false;
  }
  llvm::SmallString<128> input, log;
  if (llvm::sys::fs::createTemporaryFile("cnnc-graph", "dot", input) ||
      llvm::sys::fs::createTemporaryFile("cnnc-graph", "log", log)) {
    error = "cannot create a temporary file";
    return false;
  }
  // dot writes next to the destination, then the picture is renamed: a
  // failed run leaves no half-written file.
  const std::string partial = output + ".partial";
  bool ok = writeOutput(input.str().str(), dotText);
  if (ok) {
    const std::string formatFlag = "-T" + format, outputFlag = "-o" + partial;
    llvm::StringRef args[] = {*dot, formatFlag, outputFlag, input.str()};
    llvm::Optional<llvm::StringRef> redirects[] = {llvm::None, log.str(),
                                                   log.str()};
    std::string message;
    int rc = llvm::sys::ExecuteAndWait(*dot, args, llvm::None, redirects, 0, 0,
                                       &message);
    if (rc != 0) {
      auto text = llvm::MemoryBuffer::getFile(log);
      error = "Graphviz's dot failed" +
              (message.empty() ? "" : ": " + message) +
              (text ? "\n" + (*text)->getBuffer().str() : "");
      ok = false;
    } else if (std::error_code ec = llvm::sys::fs::rename(partial, output)) {
      error = "cannot write '" + output + "': " + ec.message();
      ok = false;
    }
  } else {
    error = "cannot write the graph";
  }
  llvm::sys::fs::remove(input);
  llvm::sys::fs::remove(log);
  llvm::sys::fs::remove(partial);
  return ok;
}

int graphCommand(const std::vector<std::string> &args) {
  const char *usage =
      "usage: cnnc graph NET.yaml|NET.mlir -o NET.svg|NET.png|NET.pdf|NET.dot "
      "[--left-to-right]";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage
              << "\nDraws the network with Graphviz: one box per layer with "
                 "its output shape and parameter count, blocks and sequential "
                 "groups as nested clusters, residual and skip connections "
                 "(the second inputs of add and cat) as dashed red edges. "
                 "NET.dot is the graph's text, which needs no Graphviz.\n";
    return 0;
  }
  std::string input, output;
  bool leftToRight = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size())
      output = args[++i];
    else if (args[i] == "--left-to-right")
      leftToRight = true;
    else if (!args[i].empty() && args[i][0] == '-')
      return usageError("unknown option '" + args[i] + "'\n" + usage);
    else if (input.empty())
      input = args[i];
    else
      return usageError(usage);
  }
  if (input.empty() || output.empty())
    return usageError(usage);
  const std::string format = llvm::sys::path::extension(output).str();
  if (format != ".svg" && format != ".png" && format != ".pdf" &&
      format != ".dot")
    return usageError("cannot draw '" + output +
                      "': the file name must end in .svg, .png, .pdf or .dot");
  cnnc::Frontend frontend;
  auto module = frontend.load(input);
  if (!module)
    return 1;
  const std::string dotText =
      cnnc::networkDot(cnnc::summarize(*module), leftToRight);
  if (format == ".dot")
    return writeOutput(output, dotText) ? 0 : 1;
  std::string error;
  if (!drawWithGraphviz(dotText, format.substr(1), output, error)) {
    std::cerr << "cnnc: error: " << error << "\n";
    return 1;
  }
  return 0;
}

int importCommand(const std::vector<std::string> &args) {
  const char *usage = "usage: cnnc import MODEL.onnx -o NET.yaml "
                      "[--weights W.safetensors] [--name NAME]";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage
              << "\nWrites the ONNX model as a network YAML file (and, with "
                 "--weights, its initializers as a safetensors file under "
                 "their names, in PyTorch's layouts). See docs/onnx.md.\n";
    return 0;
  }
  std::string input, output, weightsPath, name;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool hasValue = i + 1 < args.size();
    if (args[i] == "-o" && hasValue)
      output = args[++i];
    else if (args[i] == "--weights" && hasValue)
      weightsPath = args[++i];
    else if (args[i] == "--name" && hasValue)
      name = args[++i];
    else if (!args[i].empty() && args[i][0] == '-')
      return usageError("unknown option or missing value '" + args[i] + "'\n" +
                        usage);
    else if (input.empty())
      input = args[i];
    else
      return usageError(usage);
  }
  if (input.empty() || output.empty())
    return usageError(usage);
  if (name.empty()) {
    name = llvm::sys::path::stem(input).str();
    std::replace_if(
        name.begin(), name.end(),
        [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
        '_');
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
      name = "net_" + name;
  }
  auto bytes = llvm::MemoryBuffer::getFile(input, /*IsText=*/false);
  if (!bytes) {
    std::cerr << "cnnc: error: cannot read '" << input
              << "': " << bytes.getError().message() << "\n";
    return 1;
  }
  cnnc::OnnxImport imported;
  std::vector<std::string> errors;
  if (!cnnc::importOnnx((*bytes)->getBuffer().str(), input, name, imported,
                        errors)) {
    for (const std::string &e : errors)
      std::cerr << "cnnc: error: " << e << "\n";
    return 1;
  }
  if (!writeOutput(output, imported.yaml))
    return 1;
  if (!weightsPath.empty())
    if (cnnc::rt::Status s = cnnc::rt::writeSafetensors(
            weightsPath, imported.weights,
            {{"format", "pt"}, {"network", name}, {"source", input}});
        !s) {
      std::cerr << "cnnc: error: " << s.message() << "\n";
      return 1;
    }
  // What was written must be a network cnnc reads.
  cnnc::Frontend frontend;
  if (!frontend.load(output)) {
    std::cerr << "cnnc: error: the network written to '" << output
              << "' has the problems above: the ONNX graph's shapes do not "
                 "fit together as cnnc's layers read them\n";
    return 1;
  }
  std::cout << "wrote " << output << " (" << imported.weights.size()
            << " tensors" << (weightsPath.empty() ? "" : " in " + weightsPath)
            << ")\n";
  return 0;
}

int summaryCommand(const std::vector<std::string> &args) {
  const char *usage =
      "usage: cnnc summary NET.yaml|NET.mlir [--batch N] [--target T]";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage
              << "\nPrints each layer's output shape, parameters, FLOPs, "
                 "receptive field and stride product, and the memory a "
                 "library for target T (default host; host-cuda and "
                 "host-opencl hold it in device memory) needs at batch N "
                 "(default: the recipe's batch_size).\n";
    return 0;
  }
  if (args.empty() || args.size() % 2 != 1)
    return usageError(usage);
  std::optional<int64_t> batch;
  std::string targetText = "host";
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    const std::string &flag = args[i], &value = args[i + 1];
    if (flag == "--batch") {
      char *end = nullptr;
      const long long n = std::strtoll(value.c_str(), &end, 10);
      if (!*value.c_str() || *end || n < 1 || n > (1 << 20))
        return usageError(
            "--batch takes a whole number from 1 to 1048576, not '" + value +
            "'");
      batch = n;
    } else if (flag == "--target") {
      targetText = value;
    } else {
      return usageError(usage);
    }
  }
  Halide::Target target;
  std::string error;
  if (!cnnc::parseTarget(targetText, target, error))
    return usageError(error);
  cnnc::Frontend frontend;
  auto module = frontend.load(args[0]);
  if (!module)
    return 1;
  const cnnc::NetworkSummary summary = cnnc::summarize(*module);
  cnnc::printSummary(summary, std::cout);
  const cnnc::ModelDescription model = cnnc::describeModel(*module);
  cnnc::printMemory(
      cnnc::estimateMemory(summary, model.abi,
                           batch ? *batch : cnnc::recipeBatchSize(model),
                           target.has_gpu_feature()),
      target.has_gpu_feature() ? "device memory (" + targetText + ")"
                               : "memory (" + targetText + ")",
      std::cout);
  return 0;
}

/// The compiler side of `cnnc bench` and `cnnc check-grad` given NET.yaml or
/// NET.mlir: the runtime's commands compile through these.
cnnc::rt::CompilerHooks compilerHooks() {
  using cnnc::rt::Error;
  using cnnc::rt::Status;
  cnnc::rt::CompilerHooks compiler;
  compiler.checkSchedule = [](const std::string &schedule) -> Status {
    cnnc::SchedulePolicy policy;
    std::string error;
    if (!parseSchedule(schedule, policy, error))
      return Error(error);
    return Status::success();
  };
  compiler.recipeJson =
      [](const std::string &network) -> cnnc::rt::Expected<std::string> {
    cnnc::Frontend frontend;
    auto module = frontend.load(network);
    if (!module)
      return Error(network + ": the network has errors (see above)");
    return cnnc::describeModel(*module).trainingRecipe;
  };
  compiler.build = [](const std::string &network, const std::string &schedule,
                      int64_t batchEstimate, bool profile,
                      const std::string &output) -> Status {
    cnnc::CompileOptions options;
    std::string error;
    if (!parseSchedule(schedule, options.schedule, error))
      return Error(error);
    options.schedule.batchEstimate = static_cast<int>(batchEstimate);
    options.profile = profile;
    cnnc::Frontend frontend;
    auto module = frontend.load(network);
    if (!module)
      return Error(network + ": the network has errors (see above)");
    if (!cnnc::buildModelLibrary(*module, options, output, error))
      return Error(network + ": " + error);
    return Status::success();
  };
  return compiler;
}

} // namespace

extern "C" int cnnc_compiler_interface_version(void) {
  return CNNC_COMPILER_INTERFACE_VERSION;
}

extern "C" int cnnc_compiler_main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "summary")
    return summaryCommand({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "graph")
    return graphCommand({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "import")
    return importCommand({args.begin() + 1, args.end()});
  return compileCommand(args);
}

extern "C" void cnnc_compiler_hooks(cnnc::rt::CompilerHooks *hooks) {
  // What InitLLVM gives the compile form: a stack trace if the compiler
  // crashes.
  llvm::sys::PrintStackTraceOnErrorSignal("cnnc");
  *hooks = compilerHooks();
}

// The loader casts the symbols to these types.
static_assert(std::is_same_v<decltype(&cnnc_compiler_interface_version),
                             CnncCompilerInterfaceVersionFn>);
static_assert(
    std::is_same_v<decltype(&cnnc_compiler_main), CnncCompilerMainFn>);
static_assert(
    std::is_same_v<decltype(&cnnc_compiler_hooks), CnncCompilerHooksFn>);
