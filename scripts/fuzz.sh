#!/usr/bin/env bash
# Fuzzes effnet's input readers with libFuzzer (docs/testing.md): builds the fuzz targets with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/, then runs each target
# for FUZZ_SECONDS (default 600), JOBS targets at a time (default: one per core).
#   bash scripts/fuzz.sh                    # every target: image hdf5 hdf5_fields csv settings
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh hdf5
#   FUZZ_SECONDS=0 bash scripts/fuzz.sh     # each checked-in input once (what scripts/test.sh does)
# Each target starts from its checked-in corpus (tests/fuzz/corpus/X: the seeds and what earlier
# runs kept) and grows build-fuzz/corpus/X; a crash, leak, sanitizer report, time-out (10 s an
# input) or allocation above 2 GiB is written to build-fuzz/artifacts/X/ and reported at the end.
# libFuzzer stops at the first finding; KEEP_GOING=1 runs it in fork mode, which records each
# finding and goes on (to survey a target whose findings lie in a library effnet cannot fix).
# Once a finding is fixed, copy its input into tests/fuzz/regressions/X/ (named for what it is):
# ctest's fuzz_replay_X replays corpus/X and regressions/X in every build. MERGE=1 also writes a
# minimal corpus covering what the run found into build-fuzz/merged/X (to refresh corpus/X).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
JOBS=${JOBS:-$(nproc)}
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(image hdf5 hdf5_fields csv settings)

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEFFNET_CUDA=OFF \
  -DEFFNET_FUZZ=ON -DEFFNET_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]/#/fuzz_}"

# Leaks are findings here; halt_on_error makes UBSan's reports crashes libFuzzer keeps.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}  # libhdf5's own leaks

LIMITS=(-timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=65536)

run_target() {
  local name=$1 corpus="$BUILD_DIR/corpus/$1" artifacts="$BUILD_DIR/artifacts/$1/"
  local bin="$BUILD_DIR/tests/fuzz/fuzz_$name" log="$BUILD_DIR/fuzz_$name.log"
  mkdir -p "$corpus" "$artifacts"
  local inputs=("tests/fuzz/corpus/$name")
  [ -d "tests/fuzz/regressions/$name" ] && inputs+=("tests/fuzz/regressions/$name")
  if [ "$FUZZ_SECONDS" = 0 ]; then  # -runs=0: run what the folders hold, once, then stop
    "$bin" -runs=0 "${LIMITS[@]}" -artifact_prefix="$artifacts" "${inputs[@]}" >"$log" 2>&1 || true
    return
  fi
  local keep_going=()
  [ "${KEEP_GOING:-0}" = 1 ] && keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  "$bin" -max_total_time="$FUZZ_SECONDS" "${LIMITS[@]}" -print_final_stats=1 -artifact_prefix="$artifacts" \
    "${keep_going[@]}" "$corpus" "${inputs[@]}" >"$log" 2>&1 || true
  if [ "${MERGE:-0}" = 1 ]; then
    local merged="$BUILD_DIR/merged/$name"
    rm -rf "$merged" && mkdir -p "$merged"
    "$bin" -merge=1 -max_len=65536 "$merged" "tests/fuzz/corpus/$name" "$corpus" >>"$log" 2>&1
    echo "fuzz: $name: minimal corpus in $merged ($(ls "$merged" | wc -l) inputs)"
  fi
}

echo "fuzz: ${TARGETS[*]} for ${FUZZ_SECONDS} s each, $JOBS at a time; logs in $BUILD_DIR/fuzz_*.log"
running=0
for name in "${TARGETS[@]}"; do
  run_target "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

status=0
for name in "${TARGETS[@]}"; do
  log="$BUILD_DIR/fuzz_$name.log"
  found=$(find "$BUILD_DIR/artifacts/$name" -type f | wc -l)
  if [ "$FUZZ_SECONDS" = 0 ]; then
    # A finding in run-once mode may also end the process before an artifact is written.
    if [ "$found" -ne 0 ] || ! grep -q "INFO: Done\|Done [0-9]* runs" "$log"; then
      echo "fuzz: $name: FAILED on a checked-in input (see $log)"; status=1
    else
      echo "fuzz: $name: every checked-in input ran clean"
    fi
    continue
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz: $name: $execs inputs run, $found finding(s) in $BUILD_DIR/artifacts/$name/"
  [ "$found" -eq 0 ] || status=1
done
exit $status
