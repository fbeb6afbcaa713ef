// The fp32 peak of the NVIDIA GPU a CUDA library runs on, from its driver:
// multiprocessors x fp32 lanes per multiprocessor x 2 (a fused multiply-add)
// x clock. `cnnc bench` reports a GPU library's GFLOP/s against it.
#ifndef CNNC_BENCH_GPUPEAK_H
#define CNNC_BENCH_GPUPEAK_H

#include "cnnc/Error.h"

#include <string>

namespace cnnc::rt::bench {

struct GpuPeak {
  std::string device; // the driver's name for it ("NVIDIA H200")
  int multiprocessors = 0;
  int lanesPerMultiprocessor = 0; // fp32 FMA units
  double clockGhz = 0;            // the boost clock the driver reports
  double gflops = 0;
};

/// fp32 FMA lanes of one multiprocessor of compute capability major.minor
/// (the CUDA programming guide's throughput table), or 0 where unknown.
int fp32LanesPerMultiprocessor(int major, int minor);

/// multiprocessors x lanes x 2 x clock, in GFLOP/s.
double fp32PeakGflops(int multiprocessors, int lanesPerMultiprocessor,
                      double clockGhz);

/// The peak of CUDA device `ordinal` (the one Halide's runtime uses:
/// $HL_GPU_DEVICE, else 0), asked of libcuda.so.1 (or libcuda.so) through
/// dlopen; an error saying why not (no driver, no device, an unknown
/// architecture).
Expected<GpuPeak> cudaFp32Peak(int ordinal);

/// The ordinal Halide's CUDA runtime uses: $HL_GPU_DEVICE, else 0.
int halideGpuDevice();

/// "NVIDIA H200: 132 multiprocessors x 128 fp32 lanes x 2 x 1.98 GHz".
std::string describe(const GpuPeak &peak);

} // namespace cnnc::rt::bench

#endif // CNNC_BENCH_GPUPEAK_H
