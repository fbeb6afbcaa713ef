// What the schedules know about the machine they tile for: the vector
// width, the registers and the caches, from the Halide target.
#ifndef CNNC_HALIDE_MACHINEMODEL_H
#define CNNC_HALIDE_MACHINEMODEL_H

#include <Halide.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cnnc::hl {

/// What the schedules know about the machine they tile for.
struct MachineModel {
  /// "x86-64 AVX-512", "x86-64 AVX2", "AArch64 NEON", ...
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

} // namespace cnnc::hl

#endif // CNNC_HALIDE_MACHINEMODEL_H
