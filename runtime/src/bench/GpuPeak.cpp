#include "cnnc/bench/GpuPeak.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

namespace cnnc::rt::bench {
namespace {

// The driver API's types and the attributes used, as cuda.h numbers them
// (the runtime builds without the CUDA toolkit).
using CUresult = int;
using CUdevice = int;
constexpr int kClockRateKhz = 13;
constexpr int kMultiprocessorCount = 16;
constexpr int kComputeCapabilityMajor = 75;
constexpr int kComputeCapabilityMinor = 76;

struct Driver {
  void *handle = nullptr;
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*deviceGet)(CUdevice *, int) = nullptr;
  CUresult (*attribute)(int *, int, CUdevice) = nullptr;
  CUresult (*name)(char *, int, CUdevice) = nullptr;
  ~Driver() {
    if (handle)
      dlclose(handle);
  }
};

template <typename F> bool resolve(void *handle, F &fn, const char *symbol) {
  fn = reinterpret_cast<F>(dlsym(handle, symbol));
  return fn != nullptr;
}

} // namespace

int fp32LanesPerMultiprocessor(int major, int minor) {
  switch (major) {
  case 5:
    return 128;
  case 6:
    return minor == 0 ? 64 : 128;
  case 7:
    return 64;
  case 8:
    return minor == 0 ? 64 : 128;
  case 9:
  case 10:
  case 12:
    return 128;
  default:
    return 0;
  }
}

double fp32PeakGflops(int multiprocessors, int lanesPerMultiprocessor,
                      double clockGhz) {
  return double(multiprocessors) * lanesPerMultiprocessor * 2.0 * clockGhz;
}

int halideGpuDevice() {
  const char *text = std::getenv("HL_GPU_DEVICE");
  if (!text || !*text)
    return 0;
  char *end = nullptr;
  const long ordinal = std::strtol(text, &end, 10);
  return *end || ordinal < 0 || ordinal > 1024 ? 0 : int(ordinal);
}

Expected<GpuPeak> cudaFp32Peak(int ordinal) {
  Driver cuda;
  for (const char *library : {"libcuda.so.1", "libcuda.so"})
    if ((cuda.handle = dlopen(library, RTLD_NOW | RTLD_LOCAL)))
      break;
  if (!cuda.handle)
    return Error("no CUDA driver (libcuda.so.1) on this machine");
  if (!resolve(cuda.handle, cuda.init, "cuInit") ||
      !resolve(cuda.handle, cuda.deviceGet, "cuDeviceGet") ||
      !resolve(cuda.handle, cuda.attribute, "cuDeviceGetAttribute") ||
      !resolve(cuda.handle, cuda.name, "cuDeviceGetName"))
    return Error("the CUDA driver lacks the device queries");
  CUdevice device = 0;
  if (CUresult r = cuda.init(0); r != 0)
    return Error("the CUDA driver failed to start (error " + std::to_string(r) +
                 ")");
  if (CUresult r = cuda.deviceGet(&device, ordinal); r != 0)
    return Error("no CUDA device " + std::to_string(ordinal) + " (error " +
                 std::to_string(r) + ")");
  int clockKhz = 0, count = 0, major = 0, minor = 0;
  for (auto [value, attribute] :
       {std::pair<int *, int>{&clockKhz, kClockRateKhz},
        {&count, kMultiprocessorCount},
        {&major, kComputeCapabilityMajor},
        {&minor, kComputeCapabilityMinor}})
    if (CUresult r = cuda.attribute(value, attribute, device); r != 0)
      return Error("the CUDA driver did not report attribute " +
                   std::to_string(attribute) + " (error " + std::to_string(r) +
                   ")");
  GpuPeak peak;
  char name[256] = {};
  if (cuda.name(name, int(sizeof name) - 1, device) == 0)
    peak.device = name;
  peak.multiprocessors = count;
  peak.lanesPerMultiprocessor = fp32LanesPerMultiprocessor(major, minor);
  peak.clockGhz = clockKhz / 1e6;
  if (peak.lanesPerMultiprocessor == 0)
    return Error("unknown fp32 throughput of compute capability " +
                 std::to_string(major) + "." + std::to_string(minor));
  peak.gflops =
      fp32PeakGflops(count, peak.lanesPerMultiprocessor, peak.clockGhz);
  return peak;
}

std::string describe(const GpuPeak &peak) {
  char text[256];
  std::snprintf(text, sizeof text,
                "%s: %d multiprocessors x %d fp32 lanes x 2 x %.2f GHz",
                peak.device.empty() ? "CUDA device" : peak.device.c_str(),
                peak.multiprocessors, peak.lanesPerMultiprocessor,
                peak.clockGhz);
  return text;
}

} // namespace cnnc::rt::bench
