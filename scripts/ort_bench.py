#!/usr/bin/python3
"""ONNX Runtime CPU inference, the peer of effnet's eval mode in scripts/cpu_bench.sh.

torchvision's EfficientNet-B0/B3 (10 classes, random weights: speed does not depend on them) is
exported to ONNX with Debian's PyTorch and run by ONNX Runtime's CPU provider with ORT's default
graph optimisations (which fold batch norm into the convolutions). Protocol as `effnet bench` and
the project's PyTorch anchor: 2 warm-up + 5 timed runs, median run; intra-op threads from THREADS.
Prints one JSON line per case, in the anchor's fields (model, img, batch, train, img_per_s).

  THREADS=2 PYTHONPATH=/opt/effnet-pydeps /usr/bin/python3 scripts/ort_bench.py [SIZE:BATCH ...]

Cases default to 32:256 and 224:32 for both models. Exit status 77 when onnxruntime is missing
(scripts/setup.sh installs it into /opt/effnet-pydeps).
"""
import json
import os
import sys
import tempfile
import time

try:
    import onnxruntime as ort
    import torch
    import torchvision
except ImportError as e:
    print(f"ort_bench: {e}; scripts/setup.sh installs onnxruntime into /opt/effnet-pydeps", file=sys.stderr)
    sys.exit(77)


def export(model, size, batch, path):
    x = torch.randn(batch, 3, size, size)
    try:  # PyTorch >= 2.5 defaults to the dynamo exporter; the classic one is what 1.13 has
        torch.onnx.export(model, x, path, input_names=["x"], output_names=["y"], dynamo=False)
    except TypeError:
        torch.onnx.export(model, x, path, input_names=["x"], output_names=["y"])
    return x.numpy()


def main():
    threads = int(os.environ.get("THREADS", "2"))
    torch.set_num_threads(threads)
    cases = [tuple(int(v) for v in c.split(":")) for c in sys.argv[1:]] or [(32, 256), (224, 32)]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("efficientnet_b0", "efficientnet_b3"):
            model = getattr(torchvision.models, name)(num_classes=10).eval()
            for size, batch in cases:
                path = os.path.join(tmp, f"{name}_{size}_{batch}.onnx")
                x = export(model, size, batch, path)
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
                session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                for _ in range(2):
                    session.run(None, {"x": x})
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    session.run(None, {"x": x})
                    times.append(time.perf_counter() - t)
                ms = sorted(times)[2] * 1e3
                print(json.dumps(dict(framework="onnxruntime", model=name, img=size, batch=batch, train=False,
                                      threads=threads, ms_per_iter=round(ms, 2), img_per_s=round(batch * 1e3 / ms, 1),
                                      onnxruntime=ort.__version__)), flush=True)


if __name__ == "__main__":
    main()
