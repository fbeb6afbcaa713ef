#!/usr/bin/env bash
# Prepares the GPU machine's check (benchmarks/gpu/device_check.py): builds
# the networks' libraries for a GPU target into OUT with the Python check
# and the PyTorch models it compares against. The libraries carry Halide's
# runtime, so OUT runs on a machine with only python3, numpy and PyTorch.
#
# usage: scripts/gpu-check.sh CNNC OUT [--target T] [--epoch]
#                             [NETWORK...]
#   T: host-cuda-cuda_capability_80 by default (the GPU machine's H100 and
#      H200 are 9.0; Halide's plain host-cuda is sm_20 PTX, without the
#      read-only loads, ld.global.nc, that sm_35 and later have)
#   NETWORK: lenet general residual batchnorm wide warp strided_grad
#            many_channels kernel_rows conv64 resnet18 (default: all; warp,
#            strided_grad, many_channels and kernel_rows run the CUDA-only
#            lanes of the warp-tiled convolutions and weight gradients at
#            odd sizes, in parts of several rows and groups of kernel rows)
#   --epoch: also carry `cnnc` (with the shared libraries it needs beyond
#            glibc and libstdc++), Fashion-MNIST ($FASHION_MNIST, default
#            /usr/share/datasets/fashion-mnist) and lenet_fashion's library
#            for OUT/epoch.sh: one epoch through `cnnc train`, then PyTorch's.
#
# On the GPU machine (docs/gpu.md says how to carry OUT there):
#   python3 OUT/device_check.py OUT --json OUT/report.json
#   OUT/epoch.sh
# A dry run here, through OpenCL on pocl and PyTorch on the CPU:
#   scripts/gpu-check.sh build/compiler/tools/cnnc/cnnc /tmp/gc \
#     --target host-opencl lenet
#   python3 /tmp/gc/device_check.py /tmp/gc --device cpu --bench-batch 4
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { sed -n '2,25p' "$0"; exit 2; }
cnnc=$1
out=$2
shift 2
target=host-cuda-cuda_capability_80
epoch=
while [ $# -gt 0 ]; do
  case $1 in
  --target) target=$2; shift 2 ;;
  --epoch) epoch=1; shift ;;
  *) break ;;
  esac
done
networks=("$@")
[ ${#networks[@]} -gt 0 ] ||
  networks=(lenet general residual batchnorm wide warp strided_grad
    many_channels kernel_rows conv64 resnet18)

yaml_of() {
  case $1 in
  lenet | resnet18) echo "$root/examples/$1.yaml" ;;
  general | residual | batchnorm | wide | warp | strided_grad | \
    many_channels | kernel_rows)
    echo "$root/tests/e2e/$1.yaml" ;;
  conv64) echo "$root/benchmarks/conv64.yaml" ;;
  *) echo "gpu-check: unknown network '$1'" >&2; exit 2 ;;
  esac
}

mkdir -p "$out"
cp "$root/benchmarks/gpu/device_check.py" "$root/tests/e2e/torch_models.py" "$out/"
for net in "${networks[@]}"; do
  yaml=$(yaml_of "$net")
  echo "gpu-check: $net for $target"
  "$cnnc" "$yaml" -o "$out/$net.so" --target "$target"
done
if [ -n "$epoch" ]; then
  echo "gpu-check: lenet_fashion for $target, cnnc and Fashion-MNIST"
  "$cnnc" "$root/examples/lenet_fashion.yaml" -o "$out/lenet_fashion.so" \
    --target "$target"
  cp "$cnnc" "$root/benchmarks/gpu/epoch.sh" \
    "$root/benchmarks/torch_lenet_fashion.py" "$out/"
  mkdir -p "$out/lib" "$out/fashion-mnist"
  # The libraries a bare machine may lack (glibc, libstdc++ and libgcc are
  # on every Linux that runs PyTorch).
  ldd "$cnnc" | awk '$3 ~ /^\// { print $3 }' |
    grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' |
    xargs -r cp -L -t "$out/lib"
  cp "${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"/*.gz \
    "$out/fashion-mnist/"
fi
du -sh "$out"
