#!/usr/bin/env bash
# The README's test command: set-up, configure, build, run every test with ctest; then the same
# CPU suites again in the sanitizer build (AddressSanitizer + UndefinedBehaviorSanitizer,
# build-asan/), then the fuzz targets once over their inputs (build-fuzz/): docs/testing.md.
# Builds the CUDA backend too when the toolkit is present (it compiles here; its tests skip
# without a GPU). BUILD_DIR and EFFNET_CUDA=OFF can override; EFFNET_SANITIZE_TESTS=0 skips the
# sanitizer build and the fuzz targets, EFFNET_FUZZ_TESTS=0 the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
CUDA_FLAG=${EFFNET_CUDA:-ON}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEFFNET_CUDA="$CUDA_FLAG"
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 900

[ "${EFFNET_SANITIZE_TESTS:-1}" = 0 ] && exit 0
# Every report is an error: UBSan stops at the first, ASan's leak check runs at exit (libhdf5's own
# leaks on damaged files are suppressed, tests/fuzz/lsan.supp). Set before the build too, because
# gtest_discover_tests runs each test binary to list its tests.
# allocator_may_return_null: an impossible allocation returns null, as malloc does, so that the
# out-of-memory errors under test are reached (ASan would stop the process instead).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
SAN_DIR=${SAN_BUILD_DIR:-build-asan}
cmake -S . -B "$SAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEFFNET_CUDA=OFF -DEFFNET_SANITIZE=ON
cmake --build "$SAN_DIR" -j "$(nproc)"
# Not run here: the Python converter tests (no effnet code in them).
ctest --test-dir "$SAN_DIR" --output-on-failure -j "$(nproc)" --timeout 900 -E '^python_'

# The fuzz targets (docs/testing.md): built with clang (scripts/setup.sh installs it) and each run
# once over its checked-in inputs, so that they keep building and running. Fuzzing itself is
# scripts/fuzz.sh with a time budget. EFFNET_FUZZ_TESTS=0 skips this.
[ "${EFFNET_FUZZ_TESTS:-1}" = 0 ] && exit 0
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS  # scripts/fuzz.sh sets its own
FUZZ_SECONDS=0 bash scripts/fuzz.sh
