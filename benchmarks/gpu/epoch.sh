#!/bin/sh
# One Fashion-MNIST epoch of examples/lenet_fashion.yaml on the GPU: through
# `cnnc train` on the library built for the GPU (the state in a training
# session on the device), `cnnc bench` of that library, then the same recipe
# in PyTorch on the device (data moved there first). Run from the folder scripts/gpu-check.sh
# --epoch prepared; DEVICE=cpu runs PyTorch on the CPU (a dry run).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
data="$dir/fashion-mnist"
echo "epoch: cnnc train, lenet_fashion.so"
LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$dir/cnnc" train "$dir/lenet_fashion.so" --data "fashion-mnist:$data" \
  --epochs 1 -o "$dir/lenet_fashion.safetensors"
echo "bench: cnnc bench lenet_fashion.so (GFLOP/s against the GPU's peak)"
LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$dir/cnnc" bench "$dir/lenet_fashion.so" --batch 64 --runs 50
echo "epoch: PyTorch on $device"
"$python" "$dir/torch_lenet_fashion.py" "$data" --epochs 1 \
  --normalize 0.2860 0.3530 --device "$device"
