#!/usr/bin/env bash
# Builds Keel's libFuzzer targets with clang-14 (ASan + UBSan) and runs each one for a while
# against a scratch copy of its seed corpus (fuzz/corpus/<target>/ is never written to).
# Prints one line per target and exits non-zero if any target crashed, leaked, hung or broke an
# invariant; the input that did it is kept under <build>/runs/<target>/artifacts/.
#
#   fuzz/run.sh [--seconds N] [--jobs J] [--build DIR] [TARGET...]
#
# TARGET is pgwire, scram, api or config (default: all). --jobs runs that many targets at once
# (each uses one core). Fuzzers run at nice 10: the machine may be shared.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
jobs=1
build="$root/build-fuzz"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(pgwire scram api config)
case "$seconds" in ''|*[!0-9]*) echo "fuzz: --seconds needs a whole number, got '$seconds'" >&2; exit 2 ;; esac
case "$jobs" in ''|*[!0-9]*|0) echo "fuzz: --jobs needs a number >= 1, got '$jobs'" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
  if [ ! -d "$root/fuzz/corpus/$t" ]; then
    echo "fuzz: unknown target '$t'; the targets are: $(ls "$root/fuzz/corpus" | tr '\n' ' ')" >&2
    exit 2
  fi
done

if ! command -v clang++-14 >/dev/null; then
  echo "fuzz: clang++-14 is missing; run scripts/install-deps.sh (as root) first" >&2
  exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root/fuzz" -B "$build" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    >/dev/null
fi
echo "fuzz: building ${targets[*]} in $build"
nice -n 10 cmake --build "$build" -j2 --target "${targets[@]/%/_fuzzer}" >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log" >&2
  echo "fuzz: the build failed; the whole log is $build/build.log" >&2
  exit 1
}

# One target: fresh scratch corpus, run, summary line in $dir/result.
run_target() {
  local t=$1
  local dir="$build/runs/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$root/fuzz/corpus/$t/"* "$dir/corpus/"
  local seeds
  seeds=$(ls "$dir/corpus" | wc -l)
  local rc=0
  # -timeout: an input that takes 10 s is a hang and counts as a crash.
  nice -n 10 "$build/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  local execs corpus crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  corpus=$(ls "$dir/corpus" | wc -l)
  crashes=$(ls "$dir/artifacts" | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1  # died without leaving an input (e.g. out of memory in the fuzzer itself)
  fi
  printf '%s %s %s %s %s %s\n' "$t" "$rc" "${execs:-0}" "$seeds" "$corpus" "$crashes" \
    >"$dir/result"
}

echo "fuzz: running each target for ${seconds}s, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  dir="$build/runs/$t"
  read -r name rc execs seeds corpus crashes <"$dir/result"
  if [ "$crashes" -eq 0 ]; then
    echo "fuzz: $name: ok, ${seconds}s, $execs executions, corpus $seeds -> $corpus inputs, 0 crashes"
  else
    failed=1
    echo "fuzz: $name: FAILED (exit $rc), $execs executions, $crashes crash(es):"
    grep -m3 -E 'ERROR: |invariant broken|runtime error' "$dir/log" | sed 's/^/  /' || true
    for a in "$dir/artifacts/"*; do
      [ -e "$a" ] && echo "  input: $a (replay: $build/${name}_fuzzer $a)"
    done
    echo "  log: $dir/log"
  fi
done
exit $failed
