#include "FuzzTarget.h"

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace cnnc::fuzz {

const std::string &scratchDir() {
  static const std::string dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/cnnc-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("cnnc fuzz: mkdtemp");
      std::abort();
    }
    // What the loaders cache (decompressed copies) stays in here too.
    setenv("XDG_CACHE_HOME", (pattern + "/cache").c_str(), 1);
    return pattern;
  }();
  return dir;
}

std::string writeScratch(const std::string &name, const std::string &bytes) {
  std::string path = scratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

} // namespace cnnc::fuzz
