// The seam between the cnnc executable, which links only the runtime, and
// the compiler library it loads for the commands that compile
// (libcnnc_compiler.so: LLVM, MLIR and Halide). Running a compiled model
// thus loads none of them.
#ifndef CNNC_TOOLS_COMPILERINTERFACE_H
#define CNNC_TOOLS_COMPILERINTERFACE_H

#include "cnnc/Commands.h"

#include <iostream>
#include <string>

// Changes whenever the entry points or cnnc::rt::CompilerHooks change: the
// executable refuses a library of another build instead of misusing it.
#define CNNC_COMPILER_INTERFACE_VERSION 2

// The library's exported symbols and their types.
#define CNNC_COMPILER_INTERFACE_VERSION_SYMBOL "cnnc_compiler_interface_version"
#define CNNC_COMPILER_MAIN_SYMBOL "cnnc_compiler_main"
#define CNNC_COMPILER_HOOKS_SYMBOL "cnnc_compiler_hooks"

extern "C" {
// CNNC_COMPILER_INTERFACE_VERSION as the library was built.
typedef int (*CnncCompilerInterfaceVersionFn)(void);
// The compile form (`cnnc NET -o NET.so`, `--emit`) and `cnnc summary`:
// `argv` as main() gets it. Returns the exit status.
typedef int (*CnncCompilerMainFn)(int argc, char **argv);
// Fills `hooks` with the compiler side of `cnnc bench NET.yaml` and
// `cnnc check-grad NET.yaml`.
typedef void (*CnncCompilerHooksFn)(cnnc::rt::CompilerHooks *hooks);
}

namespace cnnc::tools {

// A usage error of the compile form: "cnnc: error: MESSAGE" and where to
// find the usage. Returns the exit status, 1.
inline int usageError(const std::string &message) {
  std::cerr << "cnnc: error: " << message << "\n"
            << "run 'cnnc --help' for usage\n";
  return 1;
}

} // namespace cnnc::tools

#endif // CNNC_TOOLS_COMPILERINTERFACE_H
