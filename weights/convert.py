#!/usr/bin/python3
"""Convert EfficientNet checkpoints from other frameworks into effnet's HDF5 weights format.

Sources (naming detected from the keys, or given with --naming):
  torchvision   features.0.0.weight ...            PyTorch state dict (.pth)   symmetric padding
  lukemelas     _conv_stem.weight, _blocks.N...    efficientnet_pytorch and its Lite fork   TF SAME
  timm          conv_stem.weight, blocks.S.J...    timm efficientnet_*         symmetric
  timm_tf       (same keys as timm)                timm tf_efficientnet_*      TF SAME
  keras         stem_conv/..., block1a_dwconv/...  Keras EfficientNet .h5      TF SAME
timm and timm_tf have identical keys: plain `timm` is assumed unless --naming timm_tf is given.

Run with Debian's interpreter, which has torch and h5py:
  /usr/bin/python3 weights/convert.py SRC OUT.h5 [--model b0] [--naming auto] [--source-name NAME]
                                      [--input-mean M [M M]] [--input-std S [S S]]
The input normalisation recorded in the file ([0, 1] RGB scale) defaults to ImageNet's mean/std,
and for EfficientNet-Lite to the official Lite preprocessing (x - 127) / 128 on 0-255 input, i.e.
mean 127/255 and std 128/255 (TF efficientnet_lite_builder.py MEAN_RGB / STDDEV_RGB).
The format is described in docs/weights-format.md. The output is written to OUT.h5.tmp and renamed.
"""
import argparse
import collections
import math
import os
import re
import sys
import zlib

import numpy as np

FORMAT_VERSION = 1
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Lite models were trained on (x - 127) / 128 of 0-255 pixels ("inception-style" values chosen for
# post-training quantization); on [0, 1] input that is mean 127/255, std 128/255.
LITE_MEAN = [127.0 / 255.0] * 3
LITE_STD = [128.0 / 255.0] * 3

# ---- the architecture, as efficientnet/config.cpp builds it ----------------------------------------
BLOCK_ARGS = [  # repeats, kernel, stride, expand, in, out, se_ratio
    (1, 3, 1, 1, 32, 16, 0.25), (2, 3, 2, 6, 16, 24, 0.25), (2, 5, 2, 6, 24, 40, 0.25),
    (3, 3, 2, 6, 40, 80, 0.25), (3, 5, 1, 6, 80, 112, 0.25), (4, 5, 2, 6, 112, 192, 0.25),
    (1, 3, 1, 6, 192, 320, 0.25),
]
VARIANTS = {  # width, depth, resolution, dropout, lite
    "b0": (1.0, 1.0, 224, 0.2, False), "b1": (1.0, 1.1, 240, 0.2, False), "b2": (1.1, 1.2, 260, 0.3, False),
    "b3": (1.2, 1.4, 300, 0.3, False), "b4": (1.4, 1.8, 380, 0.4, False), "b5": (1.6, 2.2, 456, 0.4, False),
    "b6": (1.8, 2.6, 528, 0.5, False), "b7": (2.0, 3.1, 600, 0.5, False),
    "lite0": (1.0, 1.0, 224, 0.2, True), "lite1": (1.0, 1.1, 240, 0.2, True), "lite2": (1.1, 1.2, 260, 0.3, True),
    "lite3": (1.2, 1.4, 280, 0.3, True), "lite4": (1.4, 1.8, 300, 0.3, True),
}


def round_filters(f, width, divisor=8):
    f = f * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def architecture(variant):
    """Per-block (in, out, expand, kernel, se_channels) plus stem and head widths."""
    w, d, res, drop, lite = VARIANTS[variant]
    blocks = []
    for s, (r, k, st, e, i, o, se) in enumerate(BLOCK_ARGS):
        cin, cout = round_filters(i, w), round_filters(o, w)
        fixed = lite and s in (0, len(BLOCK_ARGS) - 1)
        reps = r if fixed else int(math.ceil(d * r))
        if lite and s == 0:
            cin = 32
        for j in range(reps):
            bin_ = cin if j == 0 else cout
            se_c = 0 if lite else max(1, int(bin_ * se))
            blocks.append(dict(stage=s + 1, index_in_stage=j, cin=bin_, cout=cout, expand=e, kernel=k, se=se_c))
    stem = 32 if lite else round_filters(32, w)
    head = 1280 if lite else round_filters(1280, w)
    return dict(variant=variant, blocks=blocks, stem=stem, head=head, width=w, depth=d, resolution=res,
                dropout=drop, lite=lite)


def block_args_string(lite):
    parts = []
    for (r, k, s, e, i, o, se) in BLOCK_ARGS:
        parts.append(f"r{r}_k{k}_s{s}{s}_e{e}_i{i}_o{o}" + ("" if lite else f"_se{se}"))
    return ";".join(parts)


# ---- reading sources ---------------------------------------------------------------------------------
def load_torch(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # pickle, zip and torch errors alike
        raise SystemExit(f"convert: {path}: not a PyTorch checkpoint that torch.load can read ({type(e).__name__}: {e}). "
                         "Expected a state dict (.pth/.pt) from torchvision, lukemelas or timm, or a Keras .h5")
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit(f"convert: {path}: not a PyTorch state dict (got {type(obj).__name__})")
    out = {}
    for k, v in obj.items():
        k = k[len("module."):] if k.startswith("module.") else k
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = v.detach().cpu().numpy()
    return out


def load_keras(path):
    import h5py
    out = {}
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise SystemExit(f"convert: {path}: not an HDF5 file that h5py can open ({e}). "
                         "Expected a Keras EfficientNet .h5 (legacy Keras 2 weights or whole-model file)")
    with f:
        root = f["model_weights"] if "model_weights" in f else f

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        root.visititems(visit)
    return out


def detect_naming(keys):
    if "stem.conv.weight" in keys:
        raise SystemExit("convert: this file is already in effnet's format (stem.conv.weight); load it directly")
    if any(re.match(r"(.*/)?layers/[^/]+/vars/\d+$", k) for k in keys):
        raise SystemExit("convert: this looks like a Keras 3 .weights.h5 (layers/NAME/vars/N), which is not supported; "
                         "expected Keras 2 layer groups such as stem_conv/stem_conv/kernel:0 (model.save_weights in "
                         "the legacy .h5 format)")
    if "_conv_stem.weight" in keys:
        return "lukemelas"
    if "features.0.0.weight" in keys:
        return "torchvision"
    if "conv_stem.weight" in keys and any(k.startswith("blocks.") for k in keys):
        return "timm"
    if any(re.match(r"(.*/)?stem_conv/", k) for k in keys):
        return "keras"
    sample = ", ".join(sorted(keys)[:5])
    raise SystemExit("convert: unrecognised checkpoint. Expected EfficientNet keys from torchvision "
                     "(features.0.0.weight), lukemelas (_conv_stem.weight), timm (conv_stem.weight, blocks.*) or "
                     f"Keras (stem_conv/kernel); found: {sample} ...")


# ---- per-naming translation to effnet names ------------------------------------------------------------
# Every source holds the same network under its own layer names. `effnet_tensors` walks effnet's layout
# once, in effnet's order; a translator only names the source's layers, and a reader (PyTorch state
# dict or Keras file) reads each layer's arrays in effnet's layout.
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


# One MBConv block's source layers: expand, depthwise and project are (conv, bn) layer names, se is
# (reduce, expand); expand and se are None where the block has none.
BlockLayers = collections.namedtuple("BlockLayers", "expand depthwise se project")


def effnet_tensors(read, arch, stem, block, head, classifier):
    """effnet's tensors from a source: stem and head are (conv, bn) layer names, block(i, b) gives
    block i's BlockLayers, classifier is a layer name."""
    out = {}

    def conv_bn(dst_conv, dst_bn, layers, conv=read.conv):
        out[f"{dst_conv}.weight"] = conv(layers[0])
        for name, value in zip(BN_TENSORS, read.bn(layers[1])):
            out[f"{dst_bn}.{name}"] = value

    conv_bn("stem.conv", "stem.bn", stem)
    for i, b in enumerate(arch["blocks"]):
        layers, q = block(i, b), f"blocks.{i}"
        if layers.expand:
            conv_bn(f"{q}.expand_conv", f"{q}.expand_bn", layers.expand)
        conv_bn(f"{q}.depthwise_conv", f"{q}.depthwise_bn", layers.depthwise, read.depthwise)
        if layers.se:
            for a, layer in zip(("reduce", "expand"), layers.se):
                out[f"{q}.se.{a}.weight"], out[f"{q}.se.{a}.bias"] = read.se(layer)
        conv_bn(f"{q}.project_conv", f"{q}.project_bn", layers.project)
    conv_bn("head.conv", "head.bn", head)
    out["classifier.weight"], out["classifier.bias"] = read.dense(classifier)
    return out


class TorchLayers:
    """The layers of a PyTorch state dict: a layer is a key prefix, already in effnet's layout."""

    def __init__(self, src):
        self.src = src

    def conv(self, layer):
        return self.src[f"{layer}.weight"]

    depthwise = conv

    def bn(self, layer):
        return [self.src[f"{layer}.{name}"] for name in BN_TENSORS]

    def dense(self, layer):
        return self.src[f"{layer}.weight"], self.src[f"{layer}.bias"]

    se = dense


class KerasLayers:
    """The layers of a Keras file. Keys look like "block1a_dwconv/block1a_dwconv/depthwise_kernel:0"
    (legacy h5) or "block1a_dwconv/depthwise_kernel:0"; they are indexed by (layer, variable)."""

    def __init__(self, src):
        self.table = {}
        for k, v in src.items():
            parts = k.split("/")
            var = re.sub(r":\d+$", "", parts[-1])
            self.table[(parts[0], var)] = v
        if isinstance(src, UsageTracking):  # lookups go through `table`; unused layers are not an error
            src.used.update(src.keys())

    def get(self, layer, var):
        if (layer, var) not in self.table:
            raise SystemExit(f"convert: Keras file has no {layer}/{var}")
        return self.table[(layer, var)]

    def conv(self, layer):  # HWIO -> OIHW
        return np.transpose(self.get(layer, "kernel"), (3, 2, 0, 1))

    def depthwise(self, layer):
        dw = self.table.get((layer, "depthwise_kernel"), self.table.get((layer, "kernel")))
        if dw is None:
            raise SystemExit(f"convert: Keras file has no {layer} kernel")
        return np.transpose(dw, (2, 3, 0, 1))  # (kh,kw,C,1) -> (C,1,kh,kw)

    def bn(self, layer):
        return [self.get(layer, var) for var in ("gamma", "beta", "moving_mean", "moving_variance")]

    def se(self, layer):
        return self.conv(layer), self.get(layer, "bias")

    def dense(self, layer):  # (in, out) -> (out, in)
        return np.transpose(self.get(layer, "kernel")), self.get(layer, "bias")


def from_lukemelas(src, arch):
    def block(i, b):
        p = f"_blocks.{i}"
        return BlockLayers(expand=(f"{p}._expand_conv", f"{p}._bn0") if b["expand"] != 1 else None,
                           depthwise=(f"{p}._depthwise_conv", f"{p}._bn1"),
                           se=(f"{p}._se_reduce", f"{p}._se_expand") if b["se"] else None,
                           project=(f"{p}._project_conv", f"{p}._bn2"))
    return effnet_tensors(TorchLayers(src), arch, ("_conv_stem", "_bn0"), block, ("_conv_head", "_bn1"), "_fc")


def from_torchvision(src, arch):
    def conv_bn(prefix):  # torchvision's Conv2dNormActivation: .0 the conv, .1 the batch norm
        return f"{prefix}.0", f"{prefix}.1"

    def block(i, b):
        p = f"features.{b['stage']}.{b['index_in_stage']}.block"
        k = 0 if b["expand"] == 1 else 1  # index of the depthwise stage
        return BlockLayers(expand=conv_bn(f"{p}.0") if k else None, depthwise=conv_bn(f"{p}.{k}"),
                           se=(f"{p}.{k + 1}.fc1", f"{p}.{k + 1}.fc2"), project=conv_bn(f"{p}.{k + 2}"))
    head = conv_bn(f"features.{1 + len(BLOCK_ARGS)}")
    return effnet_tensors(TorchLayers(src), arch, conv_bn("features.0"), block, head, "classifier.1")


def from_timm(src, arch):
    def block(i, b):
        p = f"blocks.{b['stage'] - 1}.{b['index_in_stage']}"
        if f"{p}.conv_pwl.weight" in src:  # inverted residual: conv_pw is the expansion
            expand, dw_bn, project = (f"{p}.conv_pw", f"{p}.bn1"), f"{p}.bn2", (f"{p}.conv_pwl", f"{p}.bn3")
        else:  # depthwise-separable: conv_pw is the projection
            expand, dw_bn, project = None, f"{p}.bn1", (f"{p}.conv_pw", f"{p}.bn2")
        se = (f"{p}.se.conv_reduce", f"{p}.se.conv_expand") if b["se"] else None
        return BlockLayers(expand, (f"{p}.conv_dw", dw_bn), se, project)
    return effnet_tensors(TorchLayers(src), arch, ("conv_stem", "bn1"), block, ("conv_head", "bn2"), "classifier")


def from_keras(src, arch):
    def block(i, b):
        name = f"block{b['stage']}{chr(ord('a') + b['index_in_stage'])}"
        expand = (f"{name}_expand_conv", f"{name}_expand_bn") if b["expand"] != 1 else None
        se = (f"{name}_se_reduce", f"{name}_se_expand") if b["se"] else None
        return BlockLayers(expand, (f"{name}_dwconv", f"{name}_bn"), se, (f"{name}_project_conv", f"{name}_project_bn"))
    return effnet_tensors(KerasLayers(src), arch, ("stem_conv", "stem_bn"), block, ("top_conv", "top_bn"),
                          "predictions")


TRANSLATORS = {"lukemelas": from_lukemelas, "torchvision": from_torchvision, "timm": from_timm,
               "timm_tf": from_timm, "keras": from_keras}


def detect_variant(src, naming):
    """The variant whose block count, stem, head and SE presence match the checkpoint."""
    if naming == "lukemelas":
        n_blocks = len({k.split(".")[1] for k in src if k.startswith("_blocks.")})
        stem, head = src["_conv_stem.weight"].shape[0], src["_conv_head.weight"].shape[0]
        se = any("_se_reduce" in k for k in src)
    elif naming == "torchvision":
        n_blocks = len({tuple(k.split(".")[1:3]) for k in src if re.match(r"features\.[1-7]\.\d+\.", k)})
        stem = src["features.0.0.weight"].shape[0]
        head = src[f"features.{1 + len(BLOCK_ARGS)}.0.weight"].shape[0]
        se = True
    elif naming in ("timm", "timm_tf"):
        n_blocks = len({tuple(k.split(".")[1:3]) for k in src if k.startswith("blocks.")})
        stem, head = src["conv_stem.weight"].shape[0], src["conv_head.weight"].shape[0]
        se = any(".se." in k for k in src)
    else:
        names = {k.split("/")[0] for k in src}
        n_blocks = len({re.match(r"(block\d+[a-z])_", n).group(1) for n in names if re.match(r"block\d+[a-z]_", n)})
        stem = np.asarray(src[next(k for k in src if k.startswith("stem_conv/"))]).shape[3]
        head = np.asarray(src[next(k for k in src if k.startswith("top_conv/"))]).shape[3]
        se = any("_se_reduce" in k for k in src)
    for v in VARIANTS:
        a = architecture(v)
        if len(a["blocks"]) == n_blocks and a["stem"] == stem and a["head"] == head and bool(a["blocks"][0]["se"]) == se:
            return v
    raise SystemExit(f"convert: no EfficientNet variant has {n_blocks} blocks, stem {stem}, head {head}, SE {se}")


def source_settings(naming, variant):
    """(padding, bn_eps, bn_momentum) the source was trained/evaluated with (reference sheet, section 3)."""
    if naming == "torchvision":
        return ("symmetric", 1e-5, 0.1) if variant in ("b0", "b1", "b2", "b3", "b4") else ("symmetric", 1e-3, 0.01)
    if naming == "timm":
        return ("symmetric", 1e-5, 0.1)
    if naming == "timm_tf":
        return ("same", 1e-3, 0.1)
    return ("same", 1e-3, 0.01)  # lukemelas (incl. Lite fork) and Keras: TF lineage


class UsageTracking(dict):
    """A dict that remembers which keys were read, so that unused source tensors can be reported."""

    def __init__(self, *a):
        super().__init__(*a)
        self.used = set()

    def __getitem__(self, k):
        self.used.add(k)
        return super().__getitem__(k)

    def get(self, k, default=None):
        if k in self:
            self.used.add(k)
        return super().get(k, default)


def default_normalisation(variant):
    """(mean, std) on [0, 1] RGB that the variant's published weights expect."""
    return (LITE_MEAN, LITE_STD) if VARIANTS[variant][4] else (IMAGENET_MEAN, IMAGENET_STD)


def convert(src, naming, variant, source_name, mean=None, std=None):
    arch = architecture(variant)
    tracked = UsageTracking(src)
    tensors = TRANSLATORS[naming](tracked, arch)
    # Strictness: every source tensor must be used (Keras' input normalisation layer aside).
    unused = [k for k in src if k not in tracked.used and not k.startswith("normalization")]
    if naming != "keras" and unused:
        raise SystemExit(f"convert: {len(unused)} tensors of the checkpoint have no place in EfficientNet-{variant}: "
                         + ", ".join(unused[:8]))
    padding, eps, momentum = source_settings(naming, variant)
    default_mean, default_std = default_normalisation(variant)
    mean, std = normalisation_values(mean, default_mean, "mean"), normalisation_values(std, default_std, "std")
    num_classes = int(tensors["classifier.weight"].shape[0])
    attrs = dict(format="effnet-weights", format_version=FORMAT_VERSION, variant=variant,
                 width=arch["width"], depth=arch["depth"], resolution=arch["resolution"], num_classes=num_classes,
                 activation="relu6" if arch["lite"] else "swish", squeeze_excitation=0 if arch["lite"] else 1,
                 fix_stem_head=1 if arch["lite"] else 0, padding=padding, bn_eps=eps, bn_momentum=momentum,
                 dropout=arch["dropout"], drop_connect=0.2, block_args=block_args_string(arch["lite"]),
                 input_mean=np.array(mean, dtype=np.float64), input_std=np.array(std, dtype=np.float64),
                 source=f"{naming}:{source_name}")
    return tensors, attrs


def normalisation_values(values, default, what):
    """One value (for all channels) or three; None gives the default."""
    if values is None:
        return list(default)
    values = [float(v) for v in values]
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or (what == "std" and min(values) <= 0):
        raise SystemExit(f"convert: --input-{what} needs one or three values{' > 0' if what == 'std' else ''}, "
                         f"got {values}")
    return values


INTEGRITY_BLOCK = 512


def with_integrity_header(image):
    """effnet's checksum header before an HDF5 file's bytes (weights/hdf5_integrity.h): 512 bytes,
    "effnet-h5 v1 crc32 XXXXXXXX size N\n" zero-padded, which HDF5 reads as a user block. effnet
    verifies it before HDF5 parses the file."""
    text = b"effnet-h5 v1 crc32 %08x size %d\n" % (zlib.crc32(image) & 0xFFFFFFFF, len(image))
    return text.ljust(INTEGRITY_BLOCK, b"\0") + image


def write_h5(path, tensors, attrs):
    """The file is built in memory (as effnet builds its own), then written once, header first, to
    PATH.tmp, which is fsynced and renamed over PATH."""
    import io

    import h5py
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for name, value in tensors.items():
            f.create_dataset(name, data=np.ascontiguousarray(np.asarray(value, dtype=np.float32)))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(with_integrity_header(buffer.getvalue()))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="checkpoint: .pth/.pt state dict, or Keras .h5")
    ap.add_argument("out", help="output .h5 in effnet's format")
    ap.add_argument("--naming", default="auto", choices=["auto"] + sorted(TRANSLATORS))
    ap.add_argument("--model", default="auto", help="variant (b0..b7, lite0..lite4); detected when auto")
    ap.add_argument("--source-name", default=None, help="recorded as the source (default: file name)")
    ap.add_argument("--input-mean", type=float, nargs="+", default=None, metavar="M",
                    help="input normalisation mean on [0, 1] RGB, one value or three "
                         "(default: ImageNet's; 127/255 for Lite)")
    ap.add_argument("--input-std", type=float, nargs="+", default=None, metavar="S",
                    help="input normalisation std on [0, 1] RGB, one value or three "
                         "(default: ImageNet's; 128/255 for Lite)")
    a = ap.parse_args(argv)
    if not os.path.exists(a.src):
        raise SystemExit(f"convert: {a.src}: no such file")
    is_keras = a.naming == "keras" or (a.naming == "auto" and a.src.endswith((".h5", ".hdf5", ".keras")))
    src = load_keras(a.src) if is_keras else load_torch(a.src)
    naming = detect_naming(set(src)) if a.naming == "auto" else a.naming
    if naming == "timm" and a.naming == "auto":
        print("convert: timm naming detected; assuming plain timm (symmetric padding). "
              "Pass --naming timm_tf for tf_efficientnet_* checkpoints.", file=sys.stderr)
    variant = detect_variant(src, naming) if a.model == "auto" else a.model.replace("efficientnet-", "").replace("efficientnet_", "")
    if variant not in VARIANTS:
        raise SystemExit(f"convert: unknown model {a.model}")
    try:
        tensors, attrs = convert(src, naming, variant, a.source_name or os.path.basename(a.src), a.input_mean,
                                 a.input_std)
    except KeyError as e:
        raise SystemExit(f"convert: {a.src} does not look like a {naming} EfficientNet-{variant}: missing {e}")
    write_h5(a.out, tensors, attrs)
    n = sum(int(np.prod(v.shape)) for k, v in tensors.items() if "running" not in k)
    print(f"convert: {naming} EfficientNet-{variant} -> {a.out}: {len(tensors)} tensors, {n} parameters, "
          f"padding {attrs['padding']}, bn eps {attrs['bn_eps']}, input mean {list(attrs['input_mean'])} "
          f"std {list(attrs['input_std'])}")


if __name__ == "__main__":
    main()
