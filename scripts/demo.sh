#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian packages),
# builds cnnc, then runs the main job on its embedded default:
#  1. compile examples/lenet.yaml, print its summary, initialise weights and
#     run a batch;
#  2. train examples/lenet_fashion.yaml on the real Fashion-MNIST for one
#     epoch (CNNC_DEMO_EPOCHS to change) and print its test accuracy and
#     confusion matrix.
#   scripts/demo.sh [NET.yaml]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
net=${1:-$root/examples/lenet.yaml}
build=${CNNC_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target cnnc

cnnc="$build/compiler/tools/cnnc/cnnc"
out="$build/demo"
mkdir -p "$out"
name=$(basename "$net" .yaml)

echo "== cnnc summary $net"
"$cnnc" summary "$net"
echo
echo "== cnnc $net -o $out/$name.so"
time "$cnnc" "$net" -o "$out/$name.so"
echo
echo "== cnnc init / run on a batch of 8 random images"
"$cnnc" init "$out/$name.so" -o "$out/$name.safetensors" --seed 0
shape=$("$cnnc" "$net" --emit shapes | head -1 | sed 's/^input \[?, //; s/\]$//')
/usr/bin/python3 -c "
import numpy as np, sys
shape = tuple(int(d) for d in '$shape'.split(','))
np.save('$out/input.npy', np.random.RandomState(0).rand(8, *shape).astype(np.float32))"
"$cnnc" run "$out/$name.so" --weights "$out/$name.safetensors" --input "$out/input.npy" -o "$out/logits.npy"
/usr/bin/python3 -c "
import numpy as np
y = np.load('$out/logits.npy')
print('logits', y.shape, 'predicted classes', y.argmax(1).tolist())"

fashion=/usr/share/datasets/fashion-mnist
echo
echo "== training examples/lenet_fashion.yaml on Fashion-MNIST ($fashion)"
"$cnnc" "$root/examples/lenet_fashion.yaml" -o "$out/lenet_fashion.so"
"$cnnc" train "$out/lenet_fashion.so" --data "fashion-mnist:$fashion" \
  --epochs "${CNNC_DEMO_EPOCHS:-1}" -o "$out/lenet_fashion.safetensors"
echo
echo "== cnnc eval on the test split"
"$cnnc" eval "$out/lenet_fashion.so" --weights "$out/lenet_fashion.safetensors" \
  --data "fashion-mnist:$fashion"
