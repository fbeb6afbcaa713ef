#include "CompilerLoader.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace cnnc::tools {
namespace {

constexpr char kLibraryName[] = "libcnnc_compiler.so";

// The directory of the running executable, read from /proc/self/exe so that
// a cnnc found through PATH or a symbolic link finds its own compiler.
rt::Expected<std::string> executableDir() {
  std::vector<char> buffer(4096);
  ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size());
  if (n < 0 || static_cast<size_t>(n) >= buffer.size())
    return rt::Error(
        std::string("cannot find the directory of the cnnc executable "
                    "(readlink /proc/self/exe: ") +
        (n < 0 ? std::strerror(errno) : "the path is too long") + ")");
  std::string path(buffer.data(), static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

// Loads `path` and resolves its entry points, or says why not.
rt::Expected<CompilerLibrary> open(const std::string &path) {
  // RTLD_LOCAL keeps LLVM's, MLIR's and Halide's symbols to the compiler.
  // The handle is never closed: like a linked library, the compiler stays
  // until the process exits (its hooks may be called until then, and LLVM
  // does not support being unloaded).
  void *handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    // dlerror() names the file that failed: this one, or a library it needs.
    std::string reason = ::dlerror();
    const std::string prefix = path + ": ";
    if (reason.rfind(prefix, 0) == 0)
      reason.erase(0, prefix.size());
    return rt::Error(reason);
  }
  auto version = reinterpret_cast<CnncCompilerInterfaceVersionFn>(
      ::dlsym(handle, CNNC_COMPILER_INTERFACE_VERSION_SYMBOL));
  CompilerLibrary library;
  library.main = reinterpret_cast<CnncCompilerMainFn>(
      ::dlsym(handle, CNNC_COMPILER_MAIN_SYMBOL));
  library.hooks = reinterpret_cast<CnncCompilerHooksFn>(
      ::dlsym(handle, CNNC_COMPILER_HOOKS_SYMBOL));
  if (!version || !library.main || !library.hooks)
    return rt::Error("not a cnnc compiler library (it lacks the "
                     "cnnc_compiler_* entry points)");
  if (int v = version(); v != CNNC_COMPILER_INTERFACE_VERSION)
    return rt::Error("built for compiler interface version " +
                     std::to_string(v) + ", but this cnnc uses version " +
                     std::to_string(CNNC_COMPILER_INTERFACE_VERSION) +
                     " (a library from another build of cnnc)");
  return library;
}

rt::Expected<CompilerLibrary> findAndLoad() {
  const std::string header =
      "this command needs the cnnc compiler library, which could not be "
      "loaded:";
  if (const char *env = std::getenv(kCompilerLibraryVariable); env && *env) {
    rt::Expected<CompilerLibrary> library = open(env);
    if (!library)
      return rt::Error(header + "\n  " + kCompilerLibraryVariable + "=" + env +
                       ": " + library.message() + "\nset " +
                       kCompilerLibraryVariable + " to the path of " +
                       kLibraryName + ", or unset it to use the one next " +
                       "to the cnnc executable");
    return library;
  }
  rt::Expected<std::string> dir = executableDir();
  if (!dir)
    return rt::Error(header + "\n  " + dir.message() + "\nset " +
                     kCompilerLibraryVariable + " to the path of " +
                     kLibraryName);
  std::string tried;
  for (const std::string &path :
       {*dir + "/" + kLibraryName, *dir + "/../lib/cnnc/" + kLibraryName}) {
    rt::Expected<CompilerLibrary> library = open(path);
    if (library)
      return library;
    tried += "\n  " + path + ": " + library.message();
  }
  return rt::Error(header + tried + "\nset " + kCompilerLibraryVariable +
                   " to the path of " + kLibraryName +
                   " (it is built next to the cnnc executable)");
}

} // namespace

rt::Expected<CompilerLibrary> loadCompilerLibrary() {
  static const rt::Expected<CompilerLibrary> library = findAndLoad();
  return library;
}

} // namespace cnnc::tools
