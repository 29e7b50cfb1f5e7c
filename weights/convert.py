#!/usr/bin/python3
"""Convert EfficientNet checkpoints from other frameworks into effnet's HDF5 weights format.

Sources (naming detected from the keys, or given with --naming):
  torchvision   features.0.0.weight ...            PyTorch state dict (.pth)   symmetric padding
  lukemelas     _conv_stem.weight, _blocks.N...    efficientnet_pytorch and its Lite fork   TF SAME
  timm          conv_stem.weight, blocks.S.J...    timm efficientnet_*         symmetric
  timm_tf       (same keys as timm)                timm tf_efficientnet_*      TF SAME
  keras         stem_conv/..., block1a_dwconv/...  keras.applications EfficientNetB0-B7: legacy .h5,
                                                   Keras 3 .weights.h5 or .keras (weights/keras_source.py)   TF SAME
timm and timm_tf have identical keys: plain `timm` is assumed unless --naming timm_tf is given.

Run with Debian's interpreter, which has torch and h5py:
  /usr/bin/python3 weights/convert.py SRC OUT.h5 [--model b0] [--naming auto] [--source-name NAME]
                                      [--input-mean M [M M]] [--input-std S [S S]] [--resolution PX]
The input normalisation recorded in the file ([0, 1] RGB scale) is, for Keras files, what the model's
own Rescaling/Normalization layers compute; otherwise it defaults to ImageNet's mean/std, and for
EfficientNet-Lite to the official Lite preprocessing (x - 127) / 128 on 0-255 input, i.e. mean 127/255
and std 128/255 (TF efficientnet_lite_builder.py MEAN_RGB / STDDEV_RGB). --input-mean/--input-std
override both; the attribute input_normalisation records where the values came from.
The format is described in docs/weights-format.md. The output is written to OUT.h5.tmp and renamed.
"""
import argparse
import collections
import os
import re
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_source  # noqa: E402
from efficientnet_layout import BLOCK_ARGS, VARIANTS, architecture, block_args_string, variant_with  # noqa: E402,F401

FORMAT_VERSION = 1
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Lite models were trained on (x - 127) / 128 of 0-255 pixels ("inception-style" values chosen for
# post-training quantization); on [0, 1] input that is mean 127/255, std 128/255.
LITE_MEAN = [127.0 / 255.0] * 3
LITE_STD = [128.0 / 255.0] * 3

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
    """A Keras file in any of its layouts (weights/keras_source.py), as "layer/variable" -> array."""
    return keras_source.read(path)


def detect_naming(keys):
    if "stem.conv.weight" in keys:
        raise SystemExit("convert: this file is already in effnet's format (stem.conv.weight); load it directly")
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
    """The layers of a Keras file, read by weights/keras_source.py into "layer/variable" keys
    (block1a_dwconv/depthwise_kernel, stem_bn/gamma, ...) whatever its layout."""

    def __init__(self, src):
        self.src = src

    def get(self, layer, var):
        if f"{layer}/{var}" not in self.src:
            raise SystemExit(f"convert: Keras file has no {layer}/{var}")
        return self.src[f"{layer}/{var}"]

    def conv(self, layer):  # HWIO -> OIHW
        return np.transpose(self.get(layer, "kernel"), (3, 2, 0, 1))

    def depthwise(self, layer):  # Keras 3's legacy writer names it "kernel"
        var = "depthwise_kernel" if f"{layer}/depthwise_kernel" in self.src else "kernel"
        return np.transpose(self.get(layer, var), (2, 3, 0, 1))  # (kh,kw,C,1) -> (C,1,kh,kw)

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
        name = keras_source.block_name(b)
        expand = (f"{name}_expand_conv", f"{name}_expand_bn") if b["expand"] != 1 else None
        se = (f"{name}_se_reduce", f"{name}_se_expand") if b["se"] else None
        return BlockLayers(expand, (f"{name}_dwconv", f"{name}_bn"), se, (f"{name}_project_conv", f"{name}_project_bn"))
    return effnet_tensors(KerasLayers(src), arch, ("stem_conv", "stem_bn"), block, ("top_conv", "top_bn"),
                          keras_classifier(src))


def keras_classifier(src):
    """keras.applications names its classifier "predictions"; a model built on include_top=False with
    its own head (GlobalAveragePooling2D, Dropout, Dense) names it as the user did. The classifier is
    then the one layer with a 2-D kernel."""
    if "predictions/kernel" in src:
        return "predictions"
    dense = sorted(k.split("/")[0] for k in src if k.endswith("/kernel") and np.ndim(src[k]) == 2)
    if len(dense) != 1:
        raise SystemExit(f"convert: Keras file has {'no' if not dense else len(dense)} dense layers "
                         f"({', '.join(dense[:4])}); expected one classifier after top_conv (predictions)")
    return dense[0]


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
    variant = variant_with(n_blocks, stem, head, se)
    if variant:
        return variant
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
    """effnet's tensors and root attributes. The input normalisation is, in order of precedence:
    mean / std as given; a Keras file's own preprocessing layers; the variant's published default.
    The attribute input_normalisation says which."""
    arch = architecture(variant)
    tracked = UsageTracking(src)
    if naming == "keras":
        keras_source.check_shapes(src, arch, source_name)
    tensors = TRANSLATORS[naming](tracked, arch)
    default_mean, default_std = default_normalisation(variant)
    origin = "ImageNet's (the default)" if default_mean == IMAGENET_MEAN else "Lite's official (the default)"
    if naming == "keras" and src.preprocessing:
        default_mean, default_std, layers = keras_source.input_normalisation(src)
        origin = f"the Keras file's layers: {layers}"
        tracked.used.update(f"{n}/{v}" for c, n, _ in src.preprocessing if c == "Normalization"
                            for v in keras_source.VARIABLES[c])
    if mean is not None or std is not None:
        origin = "--input-mean/--input-std" + (f" (otherwise {origin})" if mean is None or std is None else "")
    # Strictness: every source tensor must be used.
    unused = [k for k in src if k not in tracked.used]
    if unused:
        raise SystemExit(f"convert: {len(unused)} tensors of the checkpoint have no place in EfficientNet-{variant}: "
                         + ", ".join(unused[:8]))
    padding, eps, momentum = source_settings(naming, variant)
    mean, std = normalisation_values(mean, default_mean, "mean"), normalisation_values(std, default_std, "std")
    num_classes = int(tensors["classifier.weight"].shape[0])
    attrs = dict(format="effnet-weights", format_version=FORMAT_VERSION, variant=variant,
                 width=arch["width"], depth=arch["depth"], resolution=arch["resolution"], num_classes=num_classes,
                 activation="relu6" if arch["lite"] else "swish", squeeze_excitation=0 if arch["lite"] else 1,
                 fix_stem_head=1 if arch["lite"] else 0, padding=padding, bn_eps=eps, bn_momentum=momentum,
                 dropout=arch["dropout"], drop_connect=0.2, block_args=block_args_string(arch["lite"]),
                 input_mean=np.array(mean, dtype=np.float64), input_std=np.array(std, dtype=np.float64),
                 input_normalisation=origin, source=f"{naming}:{source_name}")
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
    ap.add_argument("src", help="checkpoint: .pth/.pt state dict, or Keras .h5 / .weights.h5 / .keras")
    ap.add_argument("out", help="output .h5 in effnet's format")
    ap.add_argument("--naming", default="auto", choices=["auto"] + sorted(TRANSLATORS))
    ap.add_argument("--model", default="auto", help="variant (b0..b7, lite0..lite4); detected when auto")
    ap.add_argument("--source-name", default=None, help="recorded as the source (default: file name)")
    ap.add_argument("--input-mean", type=float, nargs="+", default=None, metavar="M",
                    help="input normalisation mean on [0, 1] RGB, one value or three "
                         "(default: ImageNet's; 127/255 for Lite)")
    ap.add_argument("--resolution", type=int, default=None, metavar="PX",
                    help="input size the weights were trained at, recorded as the file's resolution (what "
                         "effnet predict and pseudolabel resize to by default); default: the variant's "
                         "(224 for B0), e.g. --resolution 64 for a Keras model built with input_shape (64, 64, 3)")
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
    if a.resolution is not None:
        if not 1 <= a.resolution <= 4096:
            raise SystemExit(f"convert: --resolution {a.resolution} is out of range: it must be in [1, 4096] pixels")
        attrs["resolution"] = a.resolution
    write_h5(a.out, tensors, attrs)
    n = sum(int(np.prod(v.shape)) for k, v in tensors.items() if "running" not in k)
    layout = f" ({src.layout})" if isinstance(src, keras_source.KerasWeights) else ""
    print(f"convert: {naming}{layout} EfficientNet-{variant} -> {a.out}: {len(tensors)} tensors, {n} parameters, "
          f"padding {attrs['padding']}, bn eps {attrs['bn_eps']}, input mean {list(attrs['input_mean'])} "
          f"std {list(attrs['input_std'])}, from {attrs['input_normalisation']}; resolution {attrs['resolution']}")
    warning = keras_source.imagenet_warning(src) if layout and a.input_std is None else None
    if warning:
        print(warning, file=sys.stderr)


if __name__ == "__main__":
    main()
