#!/usr/bin/env bash
# Data-parallel throughput on this machine, in one run (docs/distributed.md): B0 fine-tuning at
# 32x32 on Fashion-MNIST (1,000 labeled images: 900 train / 100 validation), 3 epochs each of
#   1 process x 2 threads, batch 64        what one process makes of the 2 cores
#   1 process x 1 thread,  batch 32        the single-rank step the cost model starts from
#   2 ranks x 1 thread,    batch 32 each   data-parallel, the same global batch of 64, with
#                                          gradient buckets of 25 MiB (B0's 15 MiB in one: no
#                                          overlap), 4 MiB (the default) and 1 MiB (EFFNET_BUCKET_MB)
# in ROUNDS interleaved rounds (default 3), reporting the median of the epochs 2-3 img/s.
# then the host all-reduce at 2 ranks (tests/tools/allreduce_bench.cpp) and the cost model's
# prediction of the 2-rank step from the measured 1-rank step and all-reduce.
# Usage: scripts/dist_bench.sh [BUILD_DIR]   (BUILD_DIR: default build, configured with MPI)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
EFFNET=$B/effnet
DATA=${DATA:-/tmp/effnet-dist-bench/fmnist}
OUT=$(mktemp -d /tmp/effnet-dist-bench.XXXXXX)
MPIRUN="mpirun --oversubscribe --allow-run-as-root"
[ -d "$DATA" ] || "$EFFNET" prepare fashion-mnist --out "$DATA" --labels-per-class 100 > /dev/null
ROUNDS=${ROUNDS:-3}
train() {  # NAME THREADS LAUNCH BATCH [BUCKET_MB]
  local log=$OUT/$1.$round.log
  rm -rf "$OUT/run"
  EFFNET_BUCKET_MB=${5:-25} OMP_NUM_THREADS=$2 $3 "$EFFNET" finetune --data "$DATA" --out "$OUT/run" --val 100 \
    --image-size 32 --batch "$4" --epochs 3 --patience 0 --device cpu --log-every 0 > "$log" 2>&1
  # the epochs' lines: "... | 3s, 123 img/s"; epoch 1 warms up
  grep -a -E "epoch [23]/3:" "$log" | sed -E 's/.* ([0-9]+) img\/s.*/\1/' >> "$OUT/$1.ips"
}
median() { sort -n "$OUT/$1.ips" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for round in $(seq "$ROUNDS"); do
  train "1 process, 2 threads, batch 64" 2 "" 64
  train "1 process, 1 thread, batch 32" 1 "" 32
  train "2 ranks, 25 MiB buckets" 1 "$MPIRUN -np 2 -x EFFNET_BUCKET_MB" 32 25
  train "2 ranks, 4 MiB buckets" 1 "$MPIRUN -np 2 -x EFFNET_BUCKET_MB" 32 4
  train "2 ranks, 1 MiB buckets" 1 "$MPIRUN -np 2 -x EFFNET_BUCKET_MB" 32 1
done
for name in "1 process, 2 threads, batch 64" "1 process, 1 thread, batch 32" "2 ranks, 25 MiB buckets" \
            "2 ranks, 4 MiB buckets" "2 ranks, 1 MiB buckets"; do
  printf "%-34s median %5s img/s of %s epochs (%s)\n" "$name" "$(median "$name")" "$(wc -l < "$OUT/$name.ips")" \
    "$(sort -n "$OUT/$name.ips" | tr '\n' ' ')"
  median "$name" > "$OUT/$name.median"
done
OMP_NUM_THREADS=1 $MPIRUN -np 2 "$B/tests/allreduce_bench" 0.004 15.4 | tee "$OUT/allreduce.txt"
one=$(cat "$OUT/1 process, 1 thread, batch 32.median")
step_ms=$(python3 -c "print(32 / $one * 1e3)")
alpha_us=$(python3 -c "import re; t=open('$OUT/allreduce.txt').read().split('\n')[0]; print(float(re.search(r'median +([0-9.]+) ms', t).group(1)) * 1e3 / 2)")
bus=$(sed -n 2p "$OUT/allreduce.txt" | sed -E 's/.*bandwidth +([0-9.]+) GB.*/\1/')
echo "cost model (B0, 10 classes: 15.4 MiB of gradients; 1-rank step $step_ms ms, alpha $alpha_us us, bus $bus GB/s):"
for mb in 25 4 1; do
  python3 scripts/scale_model.py --cpu "$bus" "$alpha_us" "$step_ms" 15.4 "$mb"
  two=$(cat "$OUT/2 ranks, $mb MiB buckets.median")
  python3 -c "print(f'  measured: 2-rank step {64 / $two * 1e3:.1f} ms, efficiency {100 * $two / (2 * $one):.1f} % of 2 x one rank')"
done
echo "logs in $OUT"
