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
# Prints each one's accuracy on the 5,000 test images of classes 5-9.
#
# usage: benchmarks/transfer_demo.sh [PER_CLASS] [SEED]   (default: 20 0)
# env:   CNNC (default build/compiler/tools/cnnc/cnnc), FASHION_MNIST (the
#        dataset-fashion-mnist directory), PRETRAIN_EPOCHS (2),
#        FINETUNE_EPOCHS (15), WORK (a directory to keep; default temporary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cnnc=${CNNC:-$root/build/compiler/tools/cnnc/cnnc}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
per_class=${1:-20}
seed=${2:-0}
pretrain_epochs=${PRETRAIN_EPOCHS:-2}
finetune_epochs=${FINETUNE_EPOCHS:-15}
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

accuracy() { grep -o 'accuracy [0-9.]*%' | tail -1 | grep -o '[0-9.]*%'; }

/usr/bin/python3 "$root/examples/transfer/make_fashion_folders.py" "$work/data" \
  --per-class "$per_class" --seed "$seed" --data "$data" >/dev/null
"$cnnc" "$root/examples/transfer/fashion_resnet.yaml" -o "$work/full.so"
"$cnnc" "$root/examples/transfer/fashion_resnet_head.yaml" -o "$work/head.so"

"$cnnc" train "$work/full.so" --data "folder:$work/data/pretrain/train" \
  --epochs "$pretrain_epochs" --seed "$seed" --no-keep-best \
  -o "$work/pretrained.safetensors" >/dev/null
pretrain_acc=$("$cnnc" eval "$work/full.so" --weights "$work/pretrained.safetensors" \
  --data "folder:$work/data/pretrain/test" | accuracy)

finetune() {  # LIBRARY OUT [--weights ... --skip ...]
  local lib=$1 out=$2
  shift 2
  "$cnnc" train "$lib" --data "folder:$work/data/finetune/train" "$@" \
    --epochs "$finetune_epochs" --seed "$seed" --no-keep-best -o "$out" >/dev/null
  "$cnnc" eval "$lib" --weights "$out" --data "folder:$work/data/finetune/test" | accuracy
}
full_acc=$(finetune "$work/full.so" "$work/full.safetensors" \
  --weights "$work/pretrained.safetensors" --skip 'fc.*')
head_acc=$(finetune "$work/head.so" "$work/head.safetensors" \
  --weights "$work/pretrained.safetensors" --skip 'fc.*')
scratch_acc=$(finetune "$work/full.so" "$work/scratch.safetensors")

echo "pretrained on classes 0-4 ($pretrain_epochs epochs): test accuracy $pretrain_acc"
echo "classes 5-9, $per_class images per class, $finetune_epochs epochs, seed $seed:"
echo "| start | trained | test accuracy |"
echo "|---|---|---|"
echo "| pretrained | every layer | $full_acc |"
echo "| pretrained | head only (backbone frozen) | $head_acc |"
echo "| scratch | every layer | $scratch_acc |"
