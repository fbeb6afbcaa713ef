// Finds and loads libcnnc_compiler.so, the compiler half of cnnc, for the
// commands that compile. The executable itself links only the runtime.
#ifndef CNNC_TOOLS_COMPILERLOADER_H
#define CNNC_TOOLS_COMPILERLOADER_H

#include "CompilerInterface.h"

#include "cnnc/Error.h"

namespace cnnc::tools {

// Names the compiler library to load instead of the default places.
inline constexpr char kCompilerLibraryVariable[] = "CNNC_COMPILER_LIBRARY";

// The entry points of a loaded compiler library.
struct CompilerLibrary {
  CnncCompilerMainFn main = nullptr;
  CnncCompilerHooksFn hooks = nullptr;
};

// Loads the compiler library from $CNNC_COMPILER_LIBRARY when it is set,
// otherwise from libcnnc_compiler.so next to the executable, then from
// ../lib/cnnc/ relative to it (an installed layout). Loads once per process
// and stays loaded; later calls return the first result. The error names
// every path tried, why each failed, and what to set.
rt::Expected<CompilerLibrary> loadCompilerLibrary();

} // namespace cnnc::tools

#endif // CNNC_TOOLS_COMPILERLOADER_H
