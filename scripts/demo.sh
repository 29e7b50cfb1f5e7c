#!/usr/bin/env bash
# The README's first command: the semi-supervised pipeline on Fashion-MNIST with 5,000 labels.
# Set-up, build of the effnet command, `effnet prepare fashion-mnist`, then `effnet pipeline`:
#   with a usable GPU  configs/fmnist-gpu.conf  (the PyTorch reference recipe, ../shared/anchors)
#   without one        configs/fmnist-cpu.conf  (fine-tunes the ImageNet Lite0 weights that setup.sh converts;
#                      configs/fmnist-scratch-cpu.conf is the reference recipe from scratch, made light)
# and the results table at the end. Resumable: run it again after an interruption.
# Overrides: BUILD_DIR (build, or build-cpu without a GPU), DATA (data/fmnist), OUT (runs/fmnist-gpu or runs/fmnist-cpu),
# CONFIG (a config file), EFFNET_CUDA=ON|OFF (default: ON when nvidia-smi sees a GPU); extra arguments go to `effnet pipeline`
# (e.g. --finetune-epochs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
phase() { echo "demo: $1 ($(( $(date +%s) - t0 )) s so far)"; }

bash scripts/setup.sh
phase "set-up done"

# Without a visible GPU the CUDA kernels would only cost build time: build the CPU backend alone,
# in its own folder (so that scripts/test.sh's build/ keeps its settings).
if nvidia-smi -L >/dev/null 2>&1; then
  BUILD_DIR=${BUILD_DIR:-build}
  EFFNET_CUDA=${EFFNET_CUDA:-ON}
else
  BUILD_DIR=${BUILD_DIR:-build-cpu}
  EFFNET_CUDA=${EFFNET_CUDA:-OFF}
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEFFNET_CUDA="$EFFNET_CUDA" >/dev/null
cmake --build "$BUILD_DIR" --target effnet -j "$(nproc)"
EFFNET="$BUILD_DIR/effnet"
phase "build done"

DATA=${DATA:-data/fmnist}
"$EFFNET" prepare fashion-mnist --out "$DATA"
phase "data ready in $DATA"

# A GPU counts when this build can run a training step on it.
if "$EFFNET" bench --model b0 --image-size 32 --batch 8 --device cuda --train --warmup 0 --iters 1 >/dev/null 2>&1; then
  kind=gpu
else
  kind=cpu
fi
CONFIG=${CONFIG:-configs/fmnist-$kind.conf}
OUT=${OUT:-runs/fmnist-$kind}
echo "demo: running the pipeline on the $kind with $CONFIG -> $OUT"
"$EFFNET" pipeline --config "$CONFIG" --data "$DATA" --out "$OUT" "$@"
phase "finished"
