#!/usr/bin/python3
"""Reference fixtures for the PyTorch parity tests (run by ctest through /usr/bin/python3).

For a source model (torchvision B0/B3, lukemelas B0 with TF-SAME padding, timm, Lite0 ...) with
seeded random weights and random BatchNorm statistics, writes
  OUT/NAME.h5      the weights, converted by weights/convert.py (dropout and drop-connect 0 so that
                   training-mode outputs are deterministic)
  OUT/NAME_ref.h5  input, labels, eval logits, train-mode logits and loss, and the gradient of every
                   parameter in effnet's names (grad/<name>)
Usage: make_parity_fixture.py NAME OUT_DIR   with NAME one of the keys of SOURCES below.
"""
import os
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
import convert  # noqa: E402


def torchvision_model(variant, classes):
    import torchvision
    m = getattr(torchvision.models, f"efficientnet_{variant}")(num_classes=classes)
    m.classifier[0].p = 0.0
    for mod in m.modules():
        if type(mod).__name__ == "StochasticDepth":
            mod.p = 0.0
    return m


def lukemelas_model(variant, classes, image_size):
    from efficientnet_pytorch import EfficientNet
    return EfficientNet.from_name(f"efficientnet-{variant}", num_classes=classes, image_size=image_size,
                                  dropout_rate=0.0, drop_connect_rate=0.0)


def timm_model(name, classes):
    import timm
    return timm.create_model(name, pretrained=False, num_classes=classes, drop_rate=0.0, drop_path_rate=0.0)


# name -> (naming, variant, image size, constructor)
SOURCES = {
    "torchvision_b0": ("torchvision", "b0", 64, lambda: torchvision_model("b0", 10)),
    "torchvision_b3": ("torchvision", "b3", 64, lambda: torchvision_model("b3", 10)),
    "lukemelas_b0": ("lukemelas", "b0", 64, lambda: lukemelas_model("b0", 10, 64)),
    "timm_b0": ("timm", "b0", 64, lambda: timm_model("efficientnet_b0", 10)),
    "timm_tf_b0": ("timm_tf", "b0", 64, lambda: timm_model("tf_efficientnet_b0", 10)),
}


def randomize(model, seed):
    """Random weights and BatchNorm statistics, so that eval mode is not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.dim() > 1 else 0.1) / max(1, p[0].numel()) ** 0.5
                    + (1.0 if name.endswith("weight") and p.dim() == 1 else 0.0))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 0.5 + 0.75)


def main():
    name, out = sys.argv[1], sys.argv[2]
    naming, variant, size, ctor = SOURCES[name]
    torch.manual_seed(0)
    model = ctor().double().float()
    randomize(model, 1)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors, attrs = convert.convert(sd, naming, variant, f"parity fixture {name}")
    attrs["dropout"], attrs["drop_connect"] = 0.0, 0.0
    os.makedirs(out, exist_ok=True)
    convert.write_h5(os.path.join(out, f"{name}.h5"), tensors, attrs)

    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, size, size, generator=g)
    y = torch.randint(0, 10, (4,), generator=g)
    model.eval()
    with torch.no_grad():
        logits_eval = model(x)
    model.train()
    logits_train = model(x)
    loss = torch.nn.functional.cross_entropy(logits_train, y)
    loss.backward()
    grads = {k: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape, np.float32))
             for k, p in model.named_parameters()}
    # Buffers only so that the translator finds every key; their "gradients" are dropped.
    grads.update({k: v for k, v in sd.items() if "running" in k})
    ours, _ = convert.convert(grads, naming, variant, "grads")
    with h5py.File(os.path.join(out, f"{name}_ref.h5.tmp"), "w") as f:
        f["input"] = x.numpy()
        f["labels"] = y.numpy().astype(np.int64)
        f["logits_eval"] = logits_eval.numpy()
        f["logits_train"] = logits_train.detach().numpy()
        f["loss_train"] = np.array([loss.item()])
        for k, v in ours.items():
            if "running" not in k:
                f[f"grad/{k}"] = np.asarray(v, dtype=np.float32)
    os.replace(os.path.join(out, f"{name}_ref.h5.tmp"), os.path.join(out, f"{name}_ref.h5"))
    print(f"fixture {name}: logits {tuple(logits_eval.shape)}, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
