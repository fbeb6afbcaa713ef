#!/usr/bin/env bash
# Builds the fuzz harnesses of fuzz/ with clang (libFuzzer, ASan, UBSan) in
# a build folder of their own and runs each for SECONDS (default 60),
# starting from its seed corpus (fuzz/corpus/NAME) and what earlier runs in
# that folder found interesting. Prints per harness the executions, the
# coverage and the findings, last a one-line total; exits 1 on any finding
# (the input is kept in BUILD/findings/NAME/, to be added to
# fuzz/regressions/NAME/ with its fix); exits 2 if a fuzzer could not run.
# docs/fuzzing.md says more.
#   scripts/fuzz.sh [SECONDS] [NAME...]   (CNNC_FUZZ_BUILD_DIR: the folder,
#                                          default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
build=${CNNC_FUZZ_BUILD_DIR:-$root/build-fuzz}

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: SECONDS must be a whole number of at least 1, not '$seconds'" >&2
  exit 2
fi
for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || {
    echo "fuzz.sh: $tool not found (Debian: clang-14 libclang-rt-14-dev)" >&2
    exit 2
  }
done

mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCNNC_FUZZ=ON -DBUILD_TESTING=OFF >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  exit 2
}
cmake --build "$build" --target fuzzers -j2 >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log" >&2
  exit 2
}

# The harnesses fuzz/CMakeLists.txt lists (the folder may hold stale ones),
# by default all of them.
read -r -a all <<<"$(sed -n 's/^set(fuzz_harnesses \(.*\))$/\1/p' \
  "$root/fuzz/CMakeLists.txt")"
[ ${#all[@]} -gt 0 ] || {
  echo "fuzz.sh: no set(fuzz_harnesses ...) in fuzz/CMakeLists.txt" >&2
  exit 2
}
if [ $# -gt 0 ]; then names=("$@"); else names=("${all[@]}"); fi

# Leaks are findings too; ASan's report names the allocation.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_runs=0
total_findings=0
broken=0
printf '%-12s %12s %8s %9s\n' harness executions coverage findings
for name in "${names[@]}"; do
  fuzzer="$build/fuzz/fuzz_$name"
  [ -x "$fuzzer" ] || { echo "fuzz.sh: no harness '$name' (${all[*]})" >&2; exit 2; }
  corpus="$build/corpus/$name"
  findings="$build/findings/$name"
  # Findings of an earlier run were reported then; this run reports its own.
  rm -rf "$findings"
  mkdir -p "$corpus" "$findings"
  dict=()
  [ -f "$root/fuzz/dict/$name.dict" ] && dict=(-dict="$root/fuzz/dict/$name.dict")
  log="$build/$name.log"
  # A finding stops the run; its input goes to $findings. CNNC_FUZZ_SEED
  # fixes libFuzzer's random seed (0: a new one each run).
  status=0
  "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    -timeout=20 -report_slow_units=1000000 -seed="${CNNC_FUZZ_SEED:-0}" \
    -artifact_prefix="$findings/" "${dict[@]}" \
    "$corpus" "$root/fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  runs=$( (sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1) || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2) || true)
  found=$(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' \
            -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '%-12s %12s %8s %9s\n' "$name" "${runs:-?}" "${cov:-?}" "$found"
  if [ "$found" -gt 0 ]; then
    grep -m1 -A12 -E 'ERROR: |runtime error|invariant failed|deadly signal' "$log" | sed 's/^/    /' || true
    echo "    inputs: $findings"
  elif [ "$status" -ne 0 ] || [ -z "$runs" ]; then
    # Not a finding: the fuzzer itself did not run (exit $status).
    echo "    the fuzzer failed without a finding (exit $status); see $log"
    tail -5 "$log" | sed 's/^/    /'
    broken=$((broken + 1))
  fi
  total_runs=$((total_runs + ${runs:-0}))
  total_findings=$((total_findings + found))
done
echo "total: ${#names[@]} harnesses, $total_runs executions in ${seconds} s each, $total_findings findings"
[ "$total_findings" -eq 0 ] || exit 1
[ "$broken" -eq 0 ] || exit 2
