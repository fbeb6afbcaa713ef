#!/usr/bin/env bash
# Installs cnnc's build, test and data dependencies from Debian 12 packages.
# Idempotent: installs only what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  llvm-14-dev llvm-14-tools libmlir-14-dev mlir-14-tools
  libhalide14-0-dev
  libyaml-cpp-dev nlohmann-json3-dev zlib1g-dev libpng-dev libjpeg-dev
  # ISA-L: the runtime's gzip inflate (datasets); zlib stays for the tests.
  libisal-dev
  libgtest-dev
  # cnnc import: Debian's ONNX library and the protobuf it is built on.
  libonnx-dev libprotobuf-dev
  # scripts/fuzz.sh: libFuzzer, ASan and UBSan (the test suite runs each
  # harness briefly when they are installed).
  clang-14 libclang-rt-14-dev
  pocl-opencl-icd ocl-icd-libopencl1
  # cnnc graph draws with Graphviz; python/cnnc/plot.py with matplotlib.
  graphviz python3-matplotlib
  # Data-parallel training across processes: Open MPI (mpirun, libmpi).
  openmpi-bin libopenmpi-dev
  python3 python3-numpy python3-pil python3-torch python3-torchvision
  # An optimised BLAS for torch, as its users have it (pip wheels ship MKL
  # or OpenBLAS); without it Debian's torch calls the reference BLAS, which
  # benchmarks/compare_torch.py refuses to compare against.
  libopenblas0-pthread
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
