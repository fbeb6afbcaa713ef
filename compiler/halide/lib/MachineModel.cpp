#include "cnnc/halide/MachineModel.h"

namespace cnnc::hl {

namespace {

bool hasAvx512(const Halide::Target &target) {
  using T = Halide::Target;
  for (T::Feature f : {T::AVX512, T::AVX512_KNL, T::AVX512_Skylake,
                       T::AVX512_Cannonlake, T::AVX512_SapphireRapids})
    if (target.has_feature(f))
      return true;
  return false;
}

} // namespace

std::optional<MachineModel> cpuMachineModel(const Halide::Target &target,
                                            std::string &error) {
  if (target.has_gpu_feature()) {
    error = "asks for a GPU: its schedules are the GPU backend's";
    return std::nullopt;
  }
  MachineModel model;
  model.floatLanes = target.natural_vector_size<float>();
  if (target.arch == Halide::Target::X86 && target.bits == 64) {
    const bool avx512 = hasAvx512(target);
    model.vectorRegisters = avx512 ? 32 : 16;
    model.name = std::string("x86-64 ") +
                 (avx512                                     ? "AVX-512"
                  : target.has_feature(Halide::Target::AVX2) ? "AVX2"
                  : target.has_feature(Halide::Target::AVX)  ? "AVX"
                                                             : "SSE");
    return model;
  }
  if (target.arch == Halide::Target::ARM && target.bits == 64) {
    model.vectorRegisters = 32;
    model.name = "AArch64 NEON";
    return model;
  }
  error = "is not a CPU cnnc has schedules for: x86-64 (SSE, AVX2, "
          "AVX-512) and AArch64";
  return std::nullopt;
}

std::optional<MachineModel> gpuMachineModel(const Halide::Target &target,
                                            std::string &error) {
  using T = Halide::Target;
  const bool cuda = target.has_feature(T::CUDA);
  const bool opencl = target.has_feature(T::OpenCL);
  if (cuda == opencl) {
    error = cuda ? "asks for two GPU APIs: choose CUDA or OpenCL"
                 : "asks for a GPU API cnnc has no schedules for: CUDA "
                   "(host-cuda) or OpenCL (host-opencl)";
    return std::nullopt;
  }
  // The host side of the pipelines runs on the CPU.
  std::string hostError;
  if (!cpuMachineModel(target.without_feature(cuda ? T::CUDA : T::OpenCL),
                       hostError)) {
    error = "runs its host side on a target that " + hostError;
    return std::nullopt;
  }
  MachineModel model;
  model.name = cuda ? "CUDA" : "OpenCL";
  model.floatLanes = 1;
  model.gpu = GpuModel();
  model.gpu->api = cuda ? GpuModel::Api::Cuda : GpuModel::Api::OpenCL;
  return model;
}

} // namespace cnnc::hl
