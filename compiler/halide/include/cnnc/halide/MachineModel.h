// What the schedules know about the machine they tile for, from the Halide
// target: for a CPU the vector width, the registers and the caches; for a
// GPU its API, the threads of a block, its registers and shared memory.
#ifndef CNNC_HALIDE_MACHINEMODEL_H
#define CNNC_HALIDE_MACHINEMODEL_H

#include <Halide.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cnnc::hl {

/// What a GPU schedule knows about the device.
struct GpuModel {
  enum class Api { Cuda, OpenCL };
  Api api = Api::Cuda;
  /// Threads of a block the schedules launch for element-wise work: a
  /// multiple of the warp (32 on NVIDIA GPUs) that fills the multiprocessor
  /// with several blocks.
  int threadsPerBlock = 256;
  /// Shared memory one block may use without the CUDA opt-in (which
  /// Halide 14 does not make).
  int64_t sharedBytesPerBlock = 48 * 1024;
  /// The register limit the library gives the CUDA JIT
  /// (HL_CUDA_JIT_MAX_REGISTERS), for register tiles to fit.
  int registersPerThread = 64;
  /// Shared memory a convolution's block stages a chunk of its input in:
  /// a third of sharedBytesPerBlock, so that registers, not shared memory,
  /// bound how many blocks a multiprocessor holds (4 blocks of 256 threads
  /// at 64 registers each: 64 KB of its 100-228 KB), with room left for
  /// OpenCL's accumulators in local memory (at most 8 KB).
  int64_t stagedInputBytes = 16 * 1024;
  /// Input channels of the largest chunk a convolution stages at a time.
  int stagedChannels = 16;
  /// Output channels one thread of a convolution accumulates in registers
  /// (a tile of this many accumulators reuses each input value it loads).
  int channelTile = 8;
  /// Threads of a warp: a warp-tiled convolution's lanes are this many
  /// output channels.
  int warpLanes = 32;
  /// Accumulators of a warp-tiled convolution's lane: a tile of pixels of
  /// its channel (apps/conv_layer's schedule with 4 x 4 tiles ran at 23.3
  /// TFLOP/s on the H200 within the 64-register limit, ../shared/DESIGN.md).
  int laneTileAccumulators = 16;
  /// Accumulators of a convolution thread's register tile (channels x rows,
  /// or channels x a pool's window): with the values and weights it loads,
  /// within registersPerThread.
  int accumulatorsPerThread = 32;
  /// A reduction over the batch with fewer results than this (weight
  /// gradients, batch statistics) is split into partial sums over rows so
  /// that about this many threads share it.
  int64_t partialSumThreads = int64_t(1) << 17;
  /// The softmax cross-entropy's gradient recomputes a sample's max and sum
  /// of exponentials in each of its classes' threads (2 x classes loads
  /// from cache per thread) up to this many classes, where two kernels more
  /// would store them: 2 N K^2 operations (1.3 M at batch 64) against two
  /// launches.
  int64_t recomputedSoftmaxClasses = 100;
};

/// What the schedules know about the machine they tile for.
struct MachineModel {
  /// "x86-64 AVX-512", "x86-64 AVX2", "AArch64 NEON", "CUDA", "OpenCL".
  std::string name;
  /// float32 lanes of one vector register (the target's natural width).
  int floatLanes = 4;
  /// Vector registers of the ISA (32 with AVX-512 and on AArch64, 16 with
  /// AVX2).
  int vectorRegisters = 16;
  /// Cache sizes per core (typical of the ISA's current processors; the
  /// compiled library may run on another machine than the compiler).
  int64_t l1DataBytes = 32 * 1024;
  int64_t l2Bytes = 1024 * 1024;
  /// The shared last-level cache.
  int64_t lastLevelCacheBytes = 16 * 1024 * 1024;

  /// Set for GPU targets: the schedules run every stage on the device.
  std::optional<GpuModel> gpu;

  /// Vector accumulators a register tile may hold: three quarters of the
  /// registers, the rest for the operands each step loads.
  int accumulatorBudget() const { return vectorRegisters * 3 / 4; }
  int vectorBytes() const { return floatLanes * 4; }
};

/// The model of a CPU target, or nullopt for targets the CPU backend does
/// not schedule (GPUs, 32-bit and other architectures), with `error` saying
/// why as the end of a sentence about the target ("target T " + error).
std::optional<MachineModel> cpuMachineModel(const Halide::Target &target,
                                            std::string &error);

/// The model of a GPU target (CUDA or OpenCL, on a host CPU the CPU
/// backend knows), or nullopt with `error` saying why (as for
/// cpuMachineModel) for other targets.
std::optional<MachineModel> gpuMachineModel(const Halide::Target &target,
                                            std::string &error);

} // namespace cnnc::hl

#endif // CNNC_HALIDE_MACHINEMODEL_H
