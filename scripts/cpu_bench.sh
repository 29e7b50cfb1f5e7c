#!/usr/bin/env bash
# CPU throughput of effnet against the PyTorch anchor, run in the same command so that both see the
# same machine load (docs/cpu-performance.md). Each round runs PyTorch (B0/B3, training batch 64
# and inference batch 256, 2 warm-up + 5 timed steps, median) and then every given effnet binary on
# the same four cases; the summary is the median over rounds, with min and max to show the noise.
#
#   scripts/cpu_bench.sh [-r ROUNDS] [-t THREADS] [-p OMP_WAIT_POLICY] [BINARY ...]
#
# BINARY is `effnet` (build-cpu/effnet by default; runs `effnet bench`) or a build of
# scripts/cpu_step_bench.cpp (any other name; runs as `BINARY MODEL BATCH train|eval`), so that
# libraries of earlier versions can be timed by the same protocol. THREADS sets OMP_NUM_THREADS
# for effnet and THREADS for the PyTorch script; -p exports OMP_WAIT_POLICY to both (unset by
# default). Raw JSON lines go to $OUT (default /tmp/cpu_bench.jsonl).
set -euo pipefail
ROUNDS=3 THREADS=2 POLICY=""
while getopts "r:t:p:" o; do
  case $o in
    r) ROUNDS=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    p) POLICY=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
BINS=("$@")
[ ${#BINS[@]} -eq 0 ] && BINS=(build-cpu/effnet)
OUT=${OUT:-/tmp/cpu_bench.jsonl}
TORCH=${TORCH:-/work/shared/anchors/torch_cpu_bench.py}
: > "$OUT"
[ -n "$POLICY" ] && export OMP_WAIT_POLICY=$POLICY

for ((r = 1; r <= ROUNDS; r++)); do
  if [ "${SKIP_TORCH:-0}" != 1 ]; then
    THREADS=$THREADS /usr/bin/python3 "$TORCH" /tmp/cpu_bench_torch.json |
      sed "s/^{/{\"who\": \"torch\", \"round\": $r, /" >> "$OUT"
  fi
  for bin in "${BINS[@]}"; do
    for m in b0 b3; do
      for mode in train eval; do
        bs=64; [ $mode = eval ] && bs=256
        if [ "$(basename "$bin")" = effnet ]; then
          flag=""; [ $mode = train ] && flag=--train
          line=$(OMP_NUM_THREADS=$THREADS "$bin" bench --model $m --image-size 32 --batch $bs --device cpu $flag)
        else
          line=$(OMP_NUM_THREADS=$THREADS "$bin" $m $bs $mode 5)
        fi
        echo "$line" | sed "s|^{|{\"who\": \"$bin\", \"round\": $r, \"case\": \"$m $mode\", |" >> "$OUT"
      done
    done
  done
done

# Summary: median (min..max) img/s over rounds per binary and case.
/usr/bin/python3 - "$OUT" <<'EOF'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["who"] == "torch":
        case = d["model"].replace("efficientnet_", "") + (" train" if d["train"] else " eval")
    else:
        case = d["case"]
    rows.setdefault((d["who"], case), []).append(d["img_per_s"])
for (who, case), v in rows.items():
    print(f"{who:32s} {case:9s} median {statistics.median(v):8.1f} img/s  (min {min(v):.1f}, max {max(v):.1f}, n={len(v)})")
EOF
