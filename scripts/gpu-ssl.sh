#!/usr/bin/env bash
# The semi-supervised recipe on a lent GPU machine, ours and PyTorch's in the same command:
# builds effnet for sm_90 (build-gpu/), prepares Fashion-MNIST from .gpu/fashion-mnist
# (scripts/gpu-carry.sh --data), runs `effnet pipeline --config configs/fmnist-gpu.conf`, then
# ../shared/anchors/torch_ssl_reference.py (carried as .gpu/anchors/) on the same data, and prints
# both results. Logs and JSON go to $OUT. RUN_TORCH=0 skips PyTorch; extra arguments go to the
# pipeline (e.g. --finetune-epochs 5 for a short check).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"

source scripts/gpu-env.sh
t0=$(date +%s)
configure_gpu_build || exit 1
cmake --build build-gpu --target effnet -j "$(nproc)" >"$OUT/build.log" 2>&1 \
  || { grep -E "error" -A3 "$OUT/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

SRC=.gpu/fashion-mnist
[ -d "$SRC" ] || SRC=/usr/share/datasets/fashion-mnist
build-gpu/effnet prepare fashion-mnist --source "$SRC" --out data/fmnist | tee "$OUT/prepare.log"

t1=$(date +%s)
build-gpu/effnet pipeline --config configs/fmnist-gpu.conf --data data/fmnist --out "$OUT/pipeline" "$@" \
  >"$OUT/pipeline.log" 2>&1
rc=$?
echo "effnet pipeline: exit $rc, $(( $(date +%s) - t1 )) s"
tail -12 "$OUT/pipeline.log"

if [ "${RUN_TORCH:-1}" = 1 ] && [ -f .gpu/anchors/torch_ssl_reference.py ]; then
  t2=$(date +%s)
  E1=30 E2=15 timeout 900 python3 .gpu/anchors/torch_ssl_reference.py "$SRC" efficientnet_b0 "$OUT/torch_ssl.json" \
    >"$OUT/torch_ssl.log" 2>&1 || echo "torch reference failed (see torch_ssl.log)"
  echo "torch reference: $(( $(date +%s) - t2 )) s"
  python3 - "$OUT/pipeline/results.json" "$OUT/torch_ssl.json" <<'PY'
import json, sys, os
ours = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
ref = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
rows = [("fine-tune test", "finetune_test", "finetune_test"), ("fine-tune best val", "finetune_best_val", "finetune_best_val"),
        ("pseudo-labels kept", "pseudo_kept", "pseudo_kept"), ("pseudo precision", "pseudo_precision", "pseudo_precision"),
        ("retrain test", "retrain_test", "retrain_test"), ("retrain best val", "retrain_best_val", "retrain_best_val"),
        ("fine-tune s", "t_finetune_s", "t_finetune_s"), ("retrain s", "t_retrain_s", "t_retrain_s")]
print(f"\n{'':20} {'effnet':>10} {'pytorch':>10}")
for name, a, b in rows:
    print(f"{name:20} {ours.get(a, float('nan')):>10.4g} {ref.get(b, float('nan')):>10.4g}")
PY
fi
