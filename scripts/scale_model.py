#!/usr/bin/env python3
"""Data-parallel scaling on paper (docs/distributed.md): a ring all-reduce cost model.

    t_ring(N, s)  = 2 (N-1)/N * s / B  +  2 (N-1) * alpha       (one bucket of s bytes)
    efficiency    = t_step / (t_step + exposed communication)

B: bus bandwidth per GPU, alpha: per-hop latency. The gradients (S bytes) go in buckets; bucket i
of k is ready at i/k of the backward pass (about 2/3 of the step), the buckets' all-reduces run
one after another, and "exposed" is how far the last one ends after backward. One bucket (the
reducer's default 25 MiB holds all of B0) exposes everything; 4 MiB buckets overlap.
Usage: scale_model.py                                    the tables of the doc
       scale_model.py --cpu BUS_GBPS ALPHA_US STEP_MS MIB BUCKET_MIB   the 2-rank CPU prediction
"""
import math
import sys

MODELS = {  # gradient bytes (fp32, 1000 classes) and single-GPU step time (ms) from the anchors
    "B0 224px b64": (21.2e6, 64 / 1937 * 1e3),    # PyTorch eager H200: 1,937 img/s
    "B3 300px b64": (48.9e6, 64 / 586 * 1e3),     # 586 img/s
    "B0 32px b256 (graphs)": (21.2e6, 6.95),       # torch.compile, CUDA graphs
}
LINKS = {  # NCCL-style bus bandwidth per GPU (bytes/s) and per-hop latency (s)
    "NVLink (8 GPU node)": (360e9, 3e-6),
    "InfiniBand NDR 400G/GPU": (45e9, 6e-6),
}
BUCKET = 25 * 2**20
BACKWARD_SHARE = 2 / 3


def ring_s(n, size, bus, alpha):
    return 0.0 if n == 1 else 2 * (n - 1) / n * size / bus + 2 * (n - 1) * alpha


def exposed_s(n, size, bus, alpha, step_s, bucket):
    k = math.ceil(size / bucket)
    backward = BACKWARD_SHARE * step_s
    end = 0.0
    for i in range(1, k + 1):
        end = max(end, i / k * backward) + ring_s(n, min(bucket, size - (i - 1) * bucket), bus, alpha)
    return max(0.0, end - backward), k * ring_s(n, size / k, bus, alpha)


def hierarchical_s(n, size):
    """Reduce-scatter inside each 8-GPU node (NVLink), a ring over the n/8 nodes of each 1/8 shard
    (every GPU's own NIC), all-gather inside the node: the inter-node latency term shrinks 8x."""
    if n <= 8:
        return ring_s(n, size, *LINKS["NVLink (8 GPU node)"])
    inside = ring_s(8, size, *LINKS["NVLink (8 GPU node)"])  # reduce-scatter + all-gather
    return inside + ring_s(n // 8, size / 8, *LINKS["InfiniBand NDR 400G/GPU"])


def efficiency(step_s, exposed):
    return step_s / (step_s + exposed)


def tables():
    counts = [8, 16, 32, 64, 128, 256, 512, 1024]
    for model, (size, step_ms) in MODELS.items():
        step = step_ms * 1e-3
        print(f"\n{model}: {size / 1e6:.1f} MB of gradients, {step_ms:.1f} ms/step on one GPU")
        print("| GPUs | link | ring all-reduce ms | efficiency, 25 MiB buckets | 4 MiB buckets "
              "| hierarchical ms | its efficiency, 25 MiB |")
        print("|---|---|---|---|---|---|---|")
        for n in counts:
            name = "NVLink (8 GPU node)" if n <= 8 else "InfiniBand NDR 400G/GPU"
            bus, alpha = LINKS[name]
            whole, _ = exposed_s(n, size, bus, alpha, step, BUCKET)
            small, _ = exposed_s(n, size, bus, alpha, step, 4 * 2**20)
            hier = hierarchical_s(n, size)
            print(f"| {n} | {name} | {ring_s(n, size, bus, alpha) * 1e3:.2f} | {100 * efficiency(step, whole):.0f} % "
                  f"| {100 * efficiency(step, small):.0f} % | {hier * 1e3:.2f} | {100 * efficiency(step, hier):.0f} % |")


def cpu(bus_gbps, alpha_us, step_ms, mib, bucket_mib):
    exposed, _ = exposed_s(2, mib * 2**20, bus_gbps * 1e9, alpha_us * 1e-6, step_ms * 1e-3, bucket_mib * 2**20)
    print(f"2 ranks, {mib:g} MiB in {bucket_mib:g} MiB buckets: {exposed * 1e3:.2f} ms exposed per step; predicted step "
          f"{step_ms + exposed * 1e3:.1f} ms, efficiency {100 * efficiency(step_ms * 1e-3, exposed):.1f} %")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--cpu":
        cpu(*map(float, sys.argv[2:]))
    else:
        tables()
