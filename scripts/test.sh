#!/usr/bin/env bash
# The README's second command: builds everything and runs every test
# (GoogleTest units, lit + FileCheck, end-to-end and PyTorch parity).
#   scripts/test.sh            (CNNC_BUILD_DIR overrides the build folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CNNC_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
