#!/usr/bin/env bash
# One command for the lent GPU machine (H100/H200, sm_90), sized to one device call: builds for
# sm_90, runs the CUDA tests first (what no CPU machine can check), reruns any that fail under
# compute-sanitizer memcheck, then the benchmarks beside PyTorch's anchor script, then the CPU tests
# while time is left, and prints one short table last (tests, img/s and peak MiB beside PyTorch's,
# ops and CUDA launches per step). Every step after the build checks the time left
# (GPU_CHECK_SECONDS, default 440) so the table always prints inside the call's limit.
# Expects .gpu/ from scripts/gpu-carry.sh to be carried along. Logs go to $OUT (the device tool
# returns at most 8 files from it) or ./gpu-out.
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
BUDGET=${GPU_CHECK_SECONDS:-440}
left() { echo $((BUDGET - ($(date +%s) - T0))); }
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
JOBS=$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

source scripts/gpu-env.sh
configure_gpu_build || exit 1
cmake --build build-gpu -j "$JOBS" >"$OUT/build.log" 2>&1 || { grep -E "error" -A3 "$OUT/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - T0 )) s, warnings: $(grep -c 'warning' "$OUT/build.log")"

# 1. The CUDA tests (names containing "Cuda"), several processes sharing the one GPU.
t=$(date +%s)
(cd build-gpu && ctest -R Cuda -j 6 --timeout 120 --output-on-failure >"$OUT/ctest.log" 2>&1)
# ctest lists failures under "The following tests FAILED:" and skips under "did not run".
failed_in() { awk '/The following tests FAILED:/ {f = 1; next} f && /^[[:space:]]+[0-9]+ - / {print $3; next} {f = 0}' "$1"; }
CUDA_SUMMARY="$(grep -E "tests passed|tests failed" "$OUT/ctest.log" | tail -1), skipped: $(grep -c "(Skipped)" "$OUT/ctest.log")"
echo "CUDA tests: $CUDA_SUMMARY ($(( $(date +%s) - t )) s)"
FAILED=$(failed_in "$OUT/ctest.log")
[ -n "$FAILED" ] && { echo "failed:"; echo "$FAILED" | head -40 | sed 's/^/  /'; }

# 2. Failing CUDA tests once more, under compute-sanitizer memcheck (bad accesses, API errors),
#    each with CUDA_LAUNCH_BLOCKING=1, the first 6 only: what breaks is named in the log.
if [ -n "$FAILED" ] && command -v compute-sanitizer >/dev/null; then
  for name in $(echo "$FAILED" | head -6); do
    [ "$(left)" -gt 200 ] || break
    exe=$(cd build-gpu && ctest -N -V -R "^${name}\$" | sed -nE 's/.*Test command: ([^ ]+).*/\1/p' | head -1)
    [ -x "$exe" ] || continue
    echo "=== $name" >>"$OUT/sanitizer.log"
    CUDA_LAUNCH_BLOCKING=1 timeout 60 compute-sanitizer --tool memcheck --print-limit 20 \
      "$exe" --gtest_filter="$name" >>"$OUT/sanitizer.log" 2>&1
    echo "sanitizer $name: rc=$?"
  done
fi

# 3. Benchmarks: ours and PyTorch's in the same run (same GPU, same protocol).
BENCH="$OUT/bench.jsonl"
: >"$BENCH"
for cfg in "b0 32 256" "b0 224 64" "b3 32 256" "b3 300 64"; do
  set -- $cfg
  for mode in --train ""; do
    if [ "$(left)" -lt 150 ]; then echo "bench $1 $2 $mode: skipped (time)"; continue; fi
    timeout 60 build-gpu/effnet bench --model "$1" --image-size "$2" --batch "$3" --device cuda $mode >>"$BENCH" 2>>"$OUT/bench.err" \
      || echo "{\"framework\": \"effnet\", \"model\": \"$1\", \"img\": $2, \"train\": $([ -n "$mode" ] && echo true || echo false), \"error\": true}" >>"$BENCH"
  done
done
if [ -f .gpu/anchors/torch_gpu_bench.py ] && [ "$(left)" -gt 110 ]; then
  timeout $(( $(left) - 70 )) python3 .gpu/anchors/torch_gpu_bench.py "$OUT/torch_gpu.json" >"$OUT/torch_bench.log" 2>&1 \
    || echo "torch bench failed or cut short (torch_bench.log)"
fi

# 4. The CPU tests while time is left (CI runs them on every stop anyway).
if [ "$(left)" -gt 90 ]; then
  t=$(date +%s)
  (cd build-gpu && OMP_NUM_THREADS=2 timeout $(( $(left) - 40 )) ctest -E Cuda -j 8 --timeout 120 >"$OUT/ctest-cpu.log" 2>&1)
  echo "CPU tests: $(grep -E "tests passed|tests failed" "$OUT/ctest-cpu.log" | tail -1) ($(( $(date +%s) - t )) s)"
  failed_in "$OUT/ctest-cpu.log" | head -10
fi

python3 - "$BENCH" "$OUT/torch_gpu.json" .gpu/anchors/torch_gpu_h200.json <<'PY'
import json, sys, os
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# PyTorch from this run when it ran, else the anchor file (another run: marked *)
torch, mark = [], ""
if os.path.exists(sys.argv[2]): torch = json.load(open(sys.argv[2]))
elif os.path.exists(sys.argv[3]): torch, mark = json.load(open(sys.argv[3])), "*"
print(f"\n{'model':6} {'img':>4} {'batch':>5} {'mode':6} {'effnet img/s':>13} {'torch img/s':>12} {'ratio':>6} {'effnet MiB':>11} {'torch MiB':>10} {'ops':>5} {'launches':>8}")
for r in ours:
    mode = 'train' if r.get('train') else 'infer'
    if r.get("error"):
        print(f"{r['model']:6} {r['img']:>4} {'':>5} {mode:6} failed"); continue
    t = next((x for x in torch if x["model"] == r["model"] and x["img"] == r["img"] and x["train"] == r["train"] and not x["amp"]), None)
    ti = t["img_per_s"] if t else float("nan"); tm = t["peak_mem_MiB"] if t else float("nan")
    print(f"{r['model']:6} {r['img']:>4} {r['batch']:>5} {mode:6} {r['img_per_s']:>13.1f} {ti:>11.1f}{mark} {r['img_per_s']/ti if t else float('nan'):>6.2f} {r['peak_mem_MiB']:>11.1f} {tm:>10.1f} {r.get('ops_per_iter', -1):>5} {r.get('cuda_launches_per_iter', -1):>8}")
if mark: print("* PyTorch's numbers from the anchor file (another run), not this one")
PY
echo "CUDA tests: $CUDA_SUMMARY; total $(( $(date +%s) - T0 )) s"
