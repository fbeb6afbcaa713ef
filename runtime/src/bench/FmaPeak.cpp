#include "cnnc/bench/FmaPeak.h"

#include "cnnc/FileIO.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CNNC_X86 1
#endif

namespace cnnc::rt::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Enough independent accumulators to cover FMA latency (4 cycles) times two
// FMA ports, with room to spare: fewer would measure latency, not throughput.
constexpr int kChains = 16;
// Iterations between clock reads: long enough that reading the clock costs
// nothing measurable, short enough to stop close to the deadline.
constexpr int64_t kChunk = 1 << 14;

// acc = acc * a + b converges to b / (1 - a) and never overflows or becomes
// denormal, so every FMA runs at full speed.
constexpr float kA = 0.9999999f, kB = 1e-7f;

std::atomic<float> sink{0.0f}; // keeps the results alive

#ifdef CNNC_X86
__attribute__((target("avx512f"))) int64_t
chunksAvx512(Clock::time_point until) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(kA), b = _mm512_set1_ps(kB);
  int64_t chunks = 0;
  do {
    for (int64_t n = 0; n < kChunk; ++n)
      for (int i = 0; i < kChains; ++i)
        acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    ++chunks;
  } while (Clock::now() < until);
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  // Summed through memory: GCC 12's _mm512_reduce_add_ps trips
  // -Wmaybe-uninitialized inside its own header.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  for (float lane : lanes)
    sink = sink + lane;
  return chunks;
}

__attribute__((target("avx2,fma"))) int64_t
chunksAvx2(Clock::time_point until) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(kA), b = _mm256_set1_ps(kB);
  int64_t chunks = 0;
  do {
    for (int64_t n = 0; n < kChunk; ++n)
      for (int i = 0; i < kChains; ++i)
        acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    ++chunks;
  } while (Clock::now() < until);
  __m256 sum = acc[0];
  for (int i = 1; i < kChains; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (float l : lanes)
    total += l;
  sink = sink + total;
  return chunks;
}
#endif

int64_t chunksScalar(Clock::time_point until) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i)
    acc[i] = static_cast<float>(i);
  int64_t chunks = 0;
  do {
    for (int64_t n = 0; n < kChunk; ++n)
      for (int i = 0; i < kChains; ++i)
        acc[i] = __builtin_fmaf(acc[i], kA, kB);
    ++chunks;
  } while (Clock::now() < until);
  float total = 0;
  for (float a : acc)
    total += a;
  sink = sink + total;
  return chunks;
}

enum class Isa { Avx512, Avx2, Scalar };

Isa detectIsa() {
#ifdef CNNC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return Isa::Avx2;
#endif
  return Isa::Scalar;
}

// Flops of one chunk: chains x lanes FMAs per iteration, 2 flops each.
double flopsPerChunk(Isa isa) {
  int lanes = isa == Isa::Avx512 ? 16 : isa == Isa::Avx2 ? 8 : 1;
  return 2.0 * kChains * lanes * static_cast<double>(kChunk);
}

int64_t runChunks(Isa isa, Clock::time_point until) {
#ifdef CNNC_X86
  if (isa == Isa::Avx512)
    return chunksAvx512(until);
  if (isa == Isa::Avx2)
    return chunksAvx2(until);
#endif
  return chunksScalar(until);
}

// One measurement: every thread starts together and runs for `seconds`.
double measureOnce(Isa isa, int threads, double seconds) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<int64_t> chunks(threads, 0);
  std::vector<double> elapsed(threads, 0.0);
  auto work = [&](int t) {
    ready.fetch_add(1);
    while (!go.load())
      std::this_thread::yield();
    Clock::time_point start = Clock::now();
    chunks[t] =
        runChunks(isa, start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(seconds)));
    elapsed[t] = std::chrono::duration<double>(Clock::now() - start).count();
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back(work, t);
  while (ready.load() < threads - 1)
    std::this_thread::yield();
  go = true;
  work(0);
  for (std::thread &t : pool)
    t.join();
  double flops = 0, longest = 0;
  for (int t = 0; t < threads; ++t) {
    flops += chunks[t] * flopsPerChunk(isa);
    longest = std::max(longest, elapsed[t]);
  }
  return longest > 0 ? flops / longest * 1e-9 : 0.0;
}

nlohmann::json readCache(const std::string &path) {
  std::ifstream is(path);
  if (!is)
    return nlohmann::json::object();
  nlohmann::json j =
      nlohmann::json::parse(is, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("entries") || !j["entries"].is_array())
    return nlohmann::json::object();
  return j;
}

} // namespace

const char *fmaIsa() {
  switch (detectIsa()) {
  case Isa::Avx512:
    return "avx512";
  case Isa::Avx2:
    return "avx2+fma";
  case Isa::Scalar:
    break;
  }
  return "scalar";
}

std::string cpuModelName() {
  std::ifstream is("/proc/cpuinfo");
  std::string line;
  while (std::getline(is, line)) {
    if (line.rfind("model name", 0) != 0)
      continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    std::string name = line.substr(colon + 1);
    size_t first = name.find_first_not_of(" \t");
    return first == std::string::npos ? "unknown CPU" : name.substr(first);
  }
  return "unknown CPU";
}

double measureFmaPeak(int threads, double seconds) {
  threads = std::max(threads, 1);
  Isa isa = detectIsa();
  // The best of a few short runs: a neighbour or a frequency change spoils
  // one of them, rarely all.
  double best = 0;
  for (int i = 0; i < 3; ++i)
    best = std::max(best, measureOnce(isa, threads, seconds / 3));
  return best;
}

std::string defaultFmaPeakCacheFile() {
  std::string dir = userCacheDirectory();
  return dir.empty() ? dir : dir + "/fma-peak.json";
}

std::optional<double> readCachedFmaPeak(const std::string &path,
                                        const std::string &cpu, int threads) {
  nlohmann::json cache = readCache(path);
  if (!cache.contains("entries"))
    return std::nullopt;
  for (const nlohmann::json &e : cache["entries"]) {
    if (!e.is_object() || !e.contains("cpu") || !e.contains("threads") ||
        !e.contains("gflops"))
      continue;
    if (!e["cpu"].is_string() || !e["threads"].is_number_integer() ||
        !e["gflops"].is_number())
      continue;
    double gflops = e["gflops"].get<double>();
    if (e["cpu"].get<std::string>() == cpu &&
        e["threads"].get<int64_t>() == threads && gflops > 0)
      return gflops;
  }
  return std::nullopt;
}

Status writeCachedFmaPeak(const std::string &path, const std::string &cpu,
                          int threads, double gflops) {
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && !makeDirectories(path.substr(0, slash)))
    return Error(path + ": cannot create its directory");
  nlohmann::json cache = readCache(path);
  nlohmann::json entries = nlohmann::json::array();
  if (cache.contains("entries"))
    for (const nlohmann::json &e : cache["entries"])
      if (!(e.is_object() && e.value("cpu", "") == cpu &&
            e.value("threads", int64_t(-1)) == threads))
        entries.push_back(e);
  entries.push_back({{"cpu", cpu},
                     {"threads", threads},
                     {"gflops", gflops},
                     {"isa", fmaIsa()}});
  nlohmann::json out = {{"entries", entries}};
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream os(temporary, std::ios::trunc);
    os << out.dump(2) << "\n";
    if (!os) {
      std::remove(temporary.c_str());
      return Error(path + ": cannot write the cache");
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Error(path + ": cannot write the cache");
  }
  return Status::success();
}

double fmaPeak(int threads, bool remeasure, const std::string &cachePath) {
  const std::string cpu = cpuModelName();
  if (!remeasure && !cachePath.empty())
    if (std::optional<double> cached =
            readCachedFmaPeak(cachePath, cpu, threads))
      return *cached;
  double gflops = measureFmaPeak(threads);
  if (!cachePath.empty())
    (void)writeCachedFmaPeak(cachePath, cpu, threads, gflops); // best effort
  return gflops;
}

} // namespace cnnc::rt::bench
