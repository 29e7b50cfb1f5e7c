#!/usr/bin/env bash
# The README's test command: set-up, configure, build, run every test with ctest.
# Builds the CUDA backend too when the toolkit is present (it compiles here; its tests skip
# without a GPU). BUILD_DIR and EFFNET_CUDA=OFF can override.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
CUDA_FLAG=${EFFNET_CUDA:-ON}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEFFNET_CUDA="$CUDA_FLAG"
cmake --build "$BUILD_DIR" -j "$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900
