#!/usr/bin/env bash
# CPU throughput of effnet builds against ONNX Runtime and, optionally, the PyTorch anchor, run in
# the same command so that all of them see the same machine load (docs/cpu-performance.md). Each
# round runs PyTorch (if TORCH is set), ONNX Runtime (scripts/ort_bench.py, if onnxruntime is
# installed; ORT=0 skips it) and then every given effnet binary on the same six cases: B0/B3
# training at 32x32 batch 64, inference at 32x32 batch 256 and at 224x224 batch 32; 2 warm-up + 5
# timed steps, median step (`effnet bench --device cpu`). The summary is the median over rounds,
# with min and max to show the noise, of img/s and, where the binary reports it, of the process CPU
# time per step (less disturbed by other jobs); then each effnet binary's ratio to each peer, per
# case, from the medians of this run.
#
#   [TORCH=path/to/torch_cpu_bench.py] [ORT=0] scripts/cpu_bench.sh [-r ROUNDS] [-t THREADS] [-p OMP_WAIT_POLICY] [EFFNET ...]
#
# EFFNET is an `effnet` binary (default build-cpu/effnet); to time an older version, build it and
# give its `effnet`. TORCH is the PyTorch anchor script (python3 with torch and torchvision); it is
# not part of this repository, and without TORCH the PyTorch runs are skipped. THREADS sets
# OMP_NUM_THREADS for effnet and THREADS for the PyTorch script; -p exports OMP_WAIT_POLICY to both
# (unset by default). Raw JSON lines go to $OUT (default /tmp/cpu_bench.jsonl).
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
for bin in "${BINS[@]}"; do
  [ -x "$bin" ] || { echo "cpu_bench: $bin is not an executable effnet binary" >&2; exit 2; }
done
OUT=${OUT:-/tmp/cpu_bench.jsonl}
PYDEPS=${EFFNET_PYDEPS:-/opt/effnet-pydeps}
ORT=${ORT:-1}
if [ "$ORT" != 0 ] && ! PYTHONPATH=$PYDEPS /usr/bin/python3 -c "import onnxruntime" 2>/dev/null; then
  echo "cpu_bench: onnxruntime is not installed in $PYDEPS (scripts/setup.sh), ONNX Runtime skipped" >&2
  ORT=0
fi
TORCH=${TORCH:-}
if [ -z "$TORCH" ]; then
  echo "cpu_bench: TORCH is not set, PyTorch skipped (TORCH=path/to/torch_cpu_bench.py to compare)" >&2
elif [ ! -f "$TORCH" ]; then
  echo "cpu_bench: TORCH=$TORCH: no such file" >&2
  exit 2
fi
: > "$OUT"
[ -n "$POLICY" ] && export OMP_WAIT_POLICY=$POLICY

for ((r = 1; r <= ROUNDS; r++)); do
  if [ -n "$TORCH" ]; then
    THREADS=$THREADS /usr/bin/python3 "$TORCH" /tmp/cpu_bench_torch.json |
      sed "s/^{/{\"who\": \"torch\", \"round\": $r, /" >> "$OUT"
  fi
  if [ "$ORT" != 0 ]; then
    THREADS=$THREADS PYTHONPATH=$PYDEPS /usr/bin/python3 "$(dirname "$0")/ort_bench.py" 2>/dev/null |
      sed "s/^{/{\"who\": \"onnxruntime\", \"round\": $r, /" >> "$OUT"
  fi
  for bin in "${BINS[@]}"; do
    for m in b0 b3; do
      for c in "train 32 64" "eval 32 256" "eval 224 32"; do
        read -r mode size bs <<< "$c"
        flag=""
        [ "$mode" = train ] && flag=--train
        line=$(OMP_NUM_THREADS=$THREADS "$bin" bench --model $m --image-size "$size" --batch "$bs" --device cpu $flag)
        echo "$line" | sed "s|^{|{\"who\": \"$bin\", \"round\": $r, |" >> "$OUT"
      done
    done
  done
done

# Summary: median (min..max) over rounds per program and case, of img/s and of CPU ms per step; then
# each effnet binary's median over each peer's, case by case.
/usr/bin/python3 - "$OUT" "${BINS[@]}" <<'EOF'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    model = d["model"].replace("efficientnet_", "")
    case = f"{model} {'train' if d['train'] else 'eval'} {d.get('img', 32)}x{d.get('img', 32)} b{d['batch']}"
    row = rows.setdefault((d["who"], case), ([], []))
    row[0].append(d["img_per_s"])
    if "cpu_ms_per_iter" in d:  # effnet builds from before it was added lack it
        row[1].append(d["cpu_ms_per_iter"])
for (who, case), (v, c) in rows.items():
    cpu = f"  cpu {statistics.median(c):8.1f} ms/step (min {min(c):.1f}, max {max(c):.1f})" if c else ""
    print(f"{who:32s} {case:20s} median {statistics.median(v):8.1f} img/s  (min {min(v):.1f}, max {max(v):.1f}, n={len(v)}){cpu}")
binaries = sys.argv[2:]
peers = [w for w in dict.fromkeys(w for w, _ in rows) if w not in binaries]
for b in binaries:
    for (who, case), (v, _) in rows.items():
        if who != b:
            continue
        ratios = [f"{statistics.median(v) / statistics.median(rows[(p, case)][0]):.2f}x {p}"
                  for p in peers if (p, case) in rows]
        if ratios:
            print(f"ratio {b:26s} {case:20s} " + ", ".join(ratios))
EOF
