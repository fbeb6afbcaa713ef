#!/bin/bash
# Weak scaling of data-parallel training on this machine (docs/benchmarks.md,
# "Data-parallel training"): one Fashion-MNIST epoch of
# examples/lenet_fashion.yaml through `cnnc train`, one process (the fused
# step) against N processes under mpirun, each process taking PER_RANK
# samples of every global batch and using one thread. Prints the images/s
# of the epoch line and the efficiency throughput(N) / (N x throughput(1)).
#
# usage: benchmarks/data_parallel_scaling.sh [PER_RANK] [N...]   (64; 2)
# env:   CNNC (default build/compiler/tools/cnnc/cnnc), FASHION_MNIST
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cnnc=${CNNC:-$root/build/compiler/tools/cnnc/cnnc}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
per_rank=${1:-64}
shift || true
counts=("${@:-2}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$cnnc" "$root/examples/lenet_fashion.yaml" -o "$work/lf.so"
# images/s of the epoch's training steps (the epoch line's figure).
rate() {
  grep -o 'epoch 1/1: train loss.* images/s' | grep -o '[0-9]* images/s' |
    grep -o '^[0-9]*'
}
train=(train "$work/lf.so" --data "fashion-mnist:$data" --epochs 1
  --threads 1 -o "$work/w.safetensors")
one=$("$cnnc" "${train[@]}" --batch-size "$per_rank" | rate)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| processes | global batch | images/s | efficiency |"
echo "|---:|---:|---:|---:|"
echo "| 1 (fused step, no MPI) | $per_rank | $one | 1.00 |"
for n in "${counts[@]}"; do
  many=$(mpirun --allow-run-as-root --oversubscribe -np "$n" \
    "$cnnc" "${train[@]}" --batch-size $((n * per_rank)) | rate)
  efficiency=$(awk -v m="$many" -v o="$one" -v n="$n" \
    'BEGIN { printf "%.2f", m / (n * o) }')
  echo "| $n | $((n * per_rank)) | $many | $efficiency |"
done
