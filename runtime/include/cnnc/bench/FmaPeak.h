// The machine's measured FMA peak in GFLOP/s (an FMA counts 2 flops), the
// yardstick `cnnc bench` reports kernels against. Measured with a small
// kernel of independent vector FMA chains in the widest ISA the CPU has
// (AVX-512, else AVX2+FMA, else scalar), and cached per CPU model and thread
// count so that a benchmark does not spend a second on it every time.
#ifndef CNNC_BENCH_FMAPEAK_H
#define CNNC_BENCH_FMAPEAK_H

#include "cnnc/Error.h"

#include <optional>
#include <string>

namespace cnnc::rt::bench {

// "avx512", "avx2+fma" or "scalar": the ISA measureFmaPeak uses here.
const char *fmaIsa();

// /proc/cpuinfo's first "model name" ("unknown CPU" where there is none).
std::string cpuModelName();

// Runs the kernel on `threads` threads (>= 1) at once for about `seconds`
// (best of a few repetitions) and returns the total GFLOP/s.
double measureFmaPeak(int threads, double seconds = 0.1);

// $XDG_CACHE_HOME/cnnc/fma-peak.json, else $HOME/.cache/cnnc/fma-peak.json;
// empty when neither variable is set.
std::string defaultFmaPeakCacheFile();

// The cached peak of (cpu, threads) in the JSON file at `path`; nothing when
// the file is missing, unreadable, malformed or has no such entry (a broken
// cache only costs a measurement).
std::optional<double> readCachedFmaPeak(const std::string &path,
                                        const std::string &cpu, int threads);

// Records the peak of (cpu, threads) in `path`, keeping the other entries;
// creates the directory and writes atomically (temporary file + rename).
Status writeCachedFmaPeak(const std::string &path, const std::string &cpu,
                          int threads, double gflops);

// The cached peak for this CPU and `threads`, or a fresh measurement (always
// when `remeasure`), which is then cached. `cachePath` empty: no cache. A
// cache that cannot be written is ignored.
double fmaPeak(int threads, bool remeasure, const std::string &cachePath);

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_FMAPEAK_H
