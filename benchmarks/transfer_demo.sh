#!/bin/bash
# Issue 5's transfer-learning demonstration on real data, a long run kept out
# of the test suite (a few minutes on 2 cores). Fashion-MNIST is split in two
# tasks (examples/transfer/make_fashion_folders.py): classes 0-4 (30,000
# images) to pretrain examples/transfer/fashion_resnet.yaml, and PER_CLASS
# labelled images of each of classes 5-9 to fine-tune on. Then, on that
# small set, with the same epochs and recipe:
#   full:    every layer trainable, started from the pretrained weights with
#            the head (fc.*) replaced;
#   head:    fashion_resnet_head.yaml, the backbone frozen, only fc trained;
#   scratch: fashion_resnet.yaml from cnnc's default initialisation.
# Prints each one's accuracy on the 5,000 test images of classes 5-9, per
# seed (the labelled subset, the initialisation and the shuffling) and the
# mean. The backbone is pretrained once, with seed 0.
#
# usage: benchmarks/transfer_demo.sh [PER_CLASS [SEED...]]   (default: 20 0 1 2)
# env:   CNNC (default build/compiler/tools/cnnc/cnnc), FASHION_MNIST (the
#        dataset-fashion-mnist directory), PRETRAIN_EPOCHS (2),
#        FINETUNE_EPOCHS (30), WORK (a directory to keep; default temporary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cnnc=${CNNC:-$root/build/compiler/tools/cnnc/cnnc}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
per_class=${1:-20}
if [ $# -gt 0 ]; then shift; fi
if [ $# -gt 0 ]; then seeds=("$@"); else seeds=(0 1 2); fi
pretrain_epochs=${PRETRAIN_EPOCHS:-2}
finetune_epochs=${FINETUNE_EPOCHS:-30}
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

accuracy() { grep -o 'accuracy [0-9.]*%' | tail -1 | grep -o '[0-9.]*'; }
folders() {  # SEED: the task split, with that seed's labelled subset
  /usr/bin/python3 "$root/examples/transfer/make_fashion_folders.py" \
    "$work/data$1" --per-class "$per_class" --seed "$1" --data "$data" >/dev/null
}

"$cnnc" "$root/examples/transfer/fashion_resnet.yaml" -o "$work/full.so"
"$cnnc" "$root/examples/transfer/fashion_resnet_head.yaml" -o "$work/head.so"
folders 0
"$cnnc" train "$work/full.so" --data "folder:$work/data0/pretrain/train" \
  --epochs "$pretrain_epochs" --seed 0 --no-keep-best \
  -o "$work/pretrained.safetensors" >/dev/null 2>&1
pretrain_acc=$("$cnnc" eval "$work/full.so" --weights "$work/pretrained.safetensors" \
  --data "folder:$work/data0/pretrain/test" | accuracy)

finetune() {  # SEED LIBRARY [--weights ... --skip ...]
  local seed=$1 lib=$2
  shift 2
  "$cnnc" train "$lib" --data "folder:$work/data$seed/finetune/train" "$@" \
    --epochs "$finetune_epochs" --seed "$seed" --no-keep-best \
    -o "$work/finetuned.safetensors" >/dev/null 2>&1
  "$cnnc" eval "$lib" --weights "$work/finetuned.safetensors" \
    --data "folder:$work/data$seed/finetune/test" | accuracy
}
echo "pretrained on classes 0-4 ($pretrain_epochs epochs): test accuracy $pretrain_acc%"
echo "classes 5-9, $per_class labelled images per class, $finetune_epochs epochs;"
echo "test accuracy (%) on their 5,000 test images:"
echo "| seed | pretrained, every layer | pretrained, head only | scratch |"
echo "|---|---|---|---|"
sums=(0 0 0)
for seed in "${seeds[@]}"; do
  [ -d "$work/data$seed" ] || folders "$seed"
  full=$(finetune "$seed" "$work/full.so" --weights "$work/pretrained.safetensors" --skip 'fc.*')
  head=$(finetune "$seed" "$work/head.so" --weights "$work/pretrained.safetensors" --skip 'fc.*')
  scratch=$(finetune "$seed" "$work/full.so")
  echo "| $seed | $full | $head | $scratch |"
  sums=($(awk -v a="${sums[0]}" -v b="${sums[1]}" -v c="${sums[2]}" \
    -v x="$full" -v y="$head" -v z="$scratch" 'BEGIN { print a + x, b + y, c + z }'))
done
awk -v a="${sums[0]}" -v b="${sums[1]}" -v c="${sums[2]}" -v n="${#seeds[@]}" \
  'BEGIN { printf "| mean | %.2f | %.2f | %.2f |\n", a / n, b / n, c / n }'
