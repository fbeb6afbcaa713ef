// Turns an imported network into net.so: Halide AOT objects for the
// pipelines, the Halide runtime once, the generated C ABI wrapper, linked by
// the system C compiler.
#ifndef CNNC_DRIVER_LIBRARYBUILDER_H
#define CNNC_DRIVER_LIBRARYBUILDER_H

#include "cnnc/lowering/HalideLowering.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace cnnc {

struct CompileOptions {
  std::string target = "host"; // a Halide target string
  SchedulePolicy schedule = SchedulePolicy::manual();
  bool verbose = false; // print each step and the link command
  /// Compile with Halide's sampling profiler (Target::Profile) and export
  /// the cnnc_profile_* functions of ProfileWrapper.h, for `cnnc bench`.
  bool profile = false;
  /// Wall-clock limit on autoscheduling (and compiling) the forward
  /// pipeline: Halide's searches have no bound of their own.
  double autoscheduleSeconds = 120;
  /// The ABI's functions are named `symbolPrefix`_forward, ... instead of
  /// cnnc_forward, ... (see isValidSymbolPrefix): libraries of several
  /// models then link into one program, statically too.
  std::string symbolPrefix;
  /// Leave the training step out (--inference-only): the library runs the
  /// forward pass only and compiles in a fraction of the time; its training
  /// functions report that it has no training step.
  bool inferenceOnly = false;
};

/// Parses and validates a target string ("host", "x86-64-linux-avx2", ...):
/// a target cnnc has a backend for (no GPU yet).
bool parseTarget(const std::string &text, Halide::Target &target,
                 std::string &error);

/// Builds `outputPath` (written atomically): a shared library, or a static
/// archive when the path ends in ".a" (one object exporting only the ABI's
/// functions). Returns false with `error` set.
bool buildModelLibrary(mlir::ModuleOp module, const CompileOptions &options,
                       const std::string &outputPath, std::string &error);

/// Halide's lowered statement of the forward pipeline (or, with
/// `trainStep`, of the training step), every segment after a comment line
/// naming it.
bool emitHalideStmt(mlir::ModuleOp module, const CompileOptions &options,
                    bool trainStep, std::string &text, std::string &error);

} // namespace cnnc

#endif // CNNC_DRIVER_LIBRARYBUILDER_H
