#!/usr/bin/env bash
# One command for the lent GPU machine (H100/H200, sm_90): build for sm_90, run the whole test
# suite (CUDA tests included), then the benchmarks side by side with PyTorch's anchor script,
# and print a short table last (img/s and peak MiB beside PyTorch's, ops and CUDA launches per step). Expects .gpu/ from scripts/gpu-carry.sh to be carried along.
# Full logs go to $OUT (the device tool returns them) or ./gpu-out.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
JOBS=$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

source scripts/gpu-env.sh
t0=$(date +%s)
configure_gpu_build || exit 1
cmake --build build-gpu -j "$JOBS" >"$OUT/build.log" 2>&1 || { grep -E "error" -A3 "$OUT/build.log" | head -60; exit 1; }
t1=$(date +%s)
echo "build: $((t1 - t0)) s"

# Two OpenMP threads per test process: eight processes on 16 cores without oversubscription.
(cd build-gpu && OMP_NUM_THREADS=2 ctest -j 8 --timeout 600 --output-on-failure >"$OUT/ctest.log" 2>&1)
t2=$(date +%s)
grep -E "tests passed|tests failed" "$OUT/ctest.log"
grep -E "^\s+[0-9]+ - .*\(Failed|Timeout|Exception|SEGFAULT\)" "$OUT/ctest.log" | head -20
SKIPPED=$(grep -c "Skipped" "$OUT/ctest.log" || true)
echo "tests: $((t2 - t1)) s, skipped entries: $SKIPPED"

# Benchmarks: ours and PyTorch's in the same run (same GPU, same protocol).
BENCH="$OUT/bench.jsonl"
: >"$BENCH"
for cfg in "b0 32 256" "b0 224 64" "b3 32 256" "b3 300 64"; do
  set -- $cfg
  for mode in --train ""; do
    timeout 300 build-gpu/effnet bench --model "$1" --image-size "$2" --batch "$3" --device cuda $mode >>"$BENCH" 2>>"$OUT/bench.err" \
      || echo "{\"framework\": \"effnet\", \"model\": \"$1\", \"img\": $2, \"error\": true}" >>"$BENCH"
  done
done
if [ -f .gpu/anchors/torch_gpu_bench.py ]; then
  timeout 900 python3 .gpu/anchors/torch_gpu_bench.py "$OUT/torch_gpu.json" >"$OUT/torch_bench.log" 2>&1 || echo "torch bench failed" >&2
fi

python3 - "$BENCH" "$OUT/torch_gpu.json" <<'PY'
import json, sys, os
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
torch = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else []
print(f"\n{'model':6} {'img':>4} {'batch':>5} {'mode':6} {'effnet img/s':>13} {'torch img/s':>12} {'ratio':>6} {'effnet MiB':>11} {'torch MiB':>10} {'ops':>5} {'launches':>8}")
for r in ours:
    if r.get("error"):
        print(f"{r['model']:6} {r['img']:>4}  failed"); continue
    t = next((x for x in torch if x["model"] == r["model"] and x["img"] == r["img"] and x["train"] == r["train"] and not x["amp"]), None)
    ti = t["img_per_s"] if t else float("nan"); tm = t["peak_mem_MiB"] if t else float("nan")
    print(f"{r['model']:6} {r['img']:>4} {r['batch']:>5} {'train' if r['train'] else 'infer':6} {r['img_per_s']:>13.1f} {ti:>12.1f} {r['img_per_s']/ti if t else float('nan'):>6.2f} {r['peak_mem_MiB']:>11.1f} {tm:>10.1f} {r.get('ops_per_iter', -1):>5} {r.get('cuda_launches_per_iter', -1):>8}")
PY
grep -E "tests passed|tests failed" "$OUT/ctest.log"
