// What every harness here defines: libFuzzer's entry point. Built with
// -fsanitize=fuzzer (scripts/fuzz.sh) it is fuzzed; built with
// ReplayMain.cpp (the test suite) it replays the seed corpus and the
// regression inputs. A harness returns 0 and never aborts on bad input:
// only a sanitizer report or a failed invariant (CNNC_FUZZ_CHECK) is a
// finding.
#ifndef CNNC_FUZZ_FUZZTARGET_H
#define CNNC_FUZZ_FUZZTARGET_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/// A property of a harness: a violation is a finding (abort, so that the
/// fuzzer saves the input).
#define CNNC_FUZZ_CHECK(condition)                                             \
  do {                                                                         \
    if (!(condition)) {                                                        \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,          \
                   __LINE__, #condition);                                      \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

namespace cnnc::fuzz {

inline std::string bytesOf(const uint8_t *data, size_t size) {
  return std::string(reinterpret_cast<const char *>(data), size);
}

/// A private folder for the harnesses that read files (made once per
/// process, under $TMPDIR).
const std::string &scratchDir();

/// Writes `bytes` to scratchDir()/name and returns its path.
std::string writeScratch(const std::string &name, const std::string &bytes);

} // namespace cnnc::fuzz

#endif // CNNC_FUZZ_FUZZTARGET_H
