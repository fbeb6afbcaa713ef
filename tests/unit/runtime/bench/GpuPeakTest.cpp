// The GPU's fp32 peak: the per-architecture lanes, the formula, the device
// Halide uses, and a clear error where there is no CUDA driver (CI).
#include "cnnc/bench/GpuPeak.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>

namespace cnnc::rt::bench {
namespace {

TEST(GpuPeakTest, KnowsTheFp32LanesOfEachArchitecture) {
  EXPECT_EQ(fp32LanesPerMultiprocessor(9, 0), 128); // H100, H200
  EXPECT_EQ(fp32LanesPerMultiprocessor(8, 0), 64);  // A100
  EXPECT_EQ(fp32LanesPerMultiprocessor(8, 6), 128); // RTX 30xx
  EXPECT_EQ(fp32LanesPerMultiprocessor(8, 9), 128); // RTX 40xx, L4
  EXPECT_EQ(fp32LanesPerMultiprocessor(7, 0), 64);  // V100
  EXPECT_EQ(fp32LanesPerMultiprocessor(7, 5), 64);  // T4, RTX 20xx
  EXPECT_EQ(fp32LanesPerMultiprocessor(6, 0), 64);  // P100
  EXPECT_EQ(fp32LanesPerMultiprocessor(6, 1), 128); // GTX 10xx
  EXPECT_EQ(fp32LanesPerMultiprocessor(3, 5), 0);   // unknown: no peak
}

TEST(GpuPeakTest, PeakIsLanesTimesTwoTimesClock) {
  // An H200: 132 multiprocessors at 1.98 GHz, about 67 TFLOP/s.
  EXPECT_DOUBLE_EQ(fp32PeakGflops(132, 128, 1.98), 132 * 128 * 2 * 1.98);
  GpuPeak peak{"NVIDIA H200", 132, 128, 1.98, 66908.16};
  EXPECT_EQ(describe(peak),
            "NVIDIA H200: 132 multiprocessors x 128 fp32 lanes x 2 x 1.98 GHz");
}

TEST(GpuPeakTest, UsesTheDeviceHalideUses) {
  const char *old = std::getenv("HL_GPU_DEVICE");
  const std::string saved = old ? old : "";
  unsetenv("HL_GPU_DEVICE");
  EXPECT_EQ(halideGpuDevice(), 0);
  setenv("HL_GPU_DEVICE", "2", 1);
  EXPECT_EQ(halideGpuDevice(), 2);
  setenv("HL_GPU_DEVICE", "two", 1);
  EXPECT_EQ(halideGpuDevice(), 0);
  if (old)
    setenv("HL_GPU_DEVICE", saved.c_str(), 1);
  else
    unsetenv("HL_GPU_DEVICE");
}

TEST(GpuPeakTest, WithoutADriverSaysSo) {
  if (void *cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(cuda);
    GTEST_SKIP() << "this machine has a CUDA driver";
  }
  Expected<GpuPeak> peak = cudaFp32Peak(0);
  ASSERT_FALSE(peak);
  EXPECT_NE(peak.message().find("no CUDA driver"), std::string::npos)
      << peak.message();
}

} // namespace
} // namespace cnnc::rt::bench
