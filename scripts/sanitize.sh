#!/usr/bin/env bash
# Builds cnnc with a sanitizer in a folder of its own and runs the tests
# under it (docs/testing.md):
#   scripts/sanitize.sh address [CTEST ARGS...]   ASan + UBSan, every test
#                                                 (build-asan/)
#   scripts/sanitize.sh thread [CTEST ARGS...]    TSan, the tests labelled
#                                                 'threads' (build-tsan/)
# CNNC_SANITIZE_BUILD_DIR overrides the folder. Libraries the tests generate
# get the same sanitizer (CNNC_CFLAGS); leaks inside other projects are
# suppressed by tests/sanitizers/lsan.supp.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
case $kind in
address)
  folder=build-asan
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  targets=(all)
  selection=()
  ;;
thread)
  # Clang's ThreadSanitizer names frames with llvm-symbolizer; GCC's uses
  # libbacktrace, which leaves every dlopen'ed library but the first
  # unnamed, so tests/sanitizers/tsan.supp could not match them.
  export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}
  folder=build-tsan
  flags=-fsanitize=thread
  targets=(concurrency_test runtime_test runtime_data_test runtime_train_test)
  selection=(-L threads)
  ;;
*)
  echo "usage: scripts/sanitize.sh address|thread [CTEST ARGS...]" >&2
  exit 2
  ;;
esac
shift
build=${CNNC_SANITIZE_BUILD_DIR:-$root/$folder}

cmake -S "$root" -B "$build" -DCNNC_SANITIZE="$kind" -DBUILD_TESTING=ON
cmake --build "$build" -j2 --target "${targets[@]}"

export CNNC_CFLAGS="$flags"
export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=suppressions=$root/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1
ctest --test-dir "$build" --output-on-failure -j2 "${selection[@]}" "$@"
