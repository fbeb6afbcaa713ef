#!/bin/bash
# Issue 3's accuracy check, a long run kept out of the test suite: trains
# examples/lenet_fashion.yaml for its 3 epochs on Fashion-MNIST with cnnc and
# the same recipe in PyTorch, once per seed, and prints the test accuracy
# after the last epoch. Exits 1 if a cnnc run ends below 87.5%.
#
# usage: benchmarks/lenet_fashion_accuracy.sh [SEED...]     (default: 0)
# env:   CNNC (default build/compiler/tools/cnnc/cnnc), FASHION_MNIST (the
#        dataset-fashion-mnist directory), SKIP_TORCH=1 to run cnnc only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cnnc=${CNNC:-$root/build/compiler/tools/cnnc/cnnc}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
seeds=("${@:-0}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$cnnc" "$root/examples/lenet_fashion.yaml" -o "$work/lf.so"
status=0
echo "| seed | cnnc | PyTorch |"
echo "|---|---|---|"
for seed in "${seeds[@]}"; do
  cnnc_acc=$("$cnnc" train "$work/lf.so" --data "fashion-mnist:$data" \
    --seed "$seed" -o "$work/w.safetensors" 2>&1 |
    grep -o 'epoch 3/3: .*val accuracy [0-9.]*%' | grep -o '[0-9.]*%$')
  torch_acc=skipped
  if [ -z "${SKIP_TORCH:-}" ]; then
    # The same recipe: normalisation, lr 0.01 annealed over 3 epochs. glibc
    # keeps torch's freed blocks (no mmap per call), as cnnc's libraries do.
    torch_acc=$(OPENBLAS_NUM_THREADS=1 \
      GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295 \
      /usr/bin/python3 "$root/benchmarks/torch_lenet_fashion.py" "$data" \
      --threads 1 --normalize 0.2860 0.3530 --cosine 3 --seed "$seed" |
      tail -1 | grep -o 'test accuracy [0-9.]*%' | grep -o '[0-9.]*%')
  fi
  echo "| $seed | $cnnc_acc | $torch_acc |"
  if awk -v a="${cnnc_acc%\%}" 'BEGIN { exit !(a < 87.5) }'; then
    status=1
  fi
done
exit $status
