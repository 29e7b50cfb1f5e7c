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
import math
import os
import re
import sys

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
BN_PT = {"weight": "weight", "bias": "bias", "running_mean": "running_mean", "running_var": "running_var"}


def bn(dst, src_prefix, src, out):
    for s, d in BN_PT.items():
        out[f"{dst}.{d}"] = src[f"{src_prefix}.{s}"]


def from_lukemelas(src, arch):
    out = {"stem.conv.weight": src["_conv_stem.weight"]}
    bn("stem.bn", "_bn0", src, out)
    for i, b in enumerate(arch["blocks"]):
        p, q = f"_blocks.{i}", f"blocks.{i}"
        if b["expand"] != 1:
            out[f"{q}.expand_conv.weight"] = src[f"{p}._expand_conv.weight"]
            bn(f"{q}.expand_bn", f"{p}._bn0", src, out)
        out[f"{q}.depthwise_conv.weight"] = src[f"{p}._depthwise_conv.weight"]
        bn(f"{q}.depthwise_bn", f"{p}._bn1", src, out)
        if b["se"]:
            for a, c in (("reduce", "_se_reduce"), ("expand", "_se_expand")):
                out[f"{q}.se.{a}.weight"] = src[f"{p}.{c}.weight"]
                out[f"{q}.se.{a}.bias"] = src[f"{p}.{c}.bias"]
        out[f"{q}.project_conv.weight"] = src[f"{p}._project_conv.weight"]
        bn(f"{q}.project_bn", f"{p}._bn2", src, out)
    out["head.conv.weight"] = src["_conv_head.weight"]
    bn("head.bn", "_bn1", src, out)
    out["classifier.weight"], out["classifier.bias"] = src["_fc.weight"], src["_fc.bias"]
    return out


def from_torchvision(src, arch):
    out = {"stem.conv.weight": src["features.0.0.weight"]}
    bn("stem.bn", "features.0.1", src, out)
    for i, b in enumerate(arch["blocks"]):
        p, q = f"features.{b['stage']}.{b['index_in_stage']}.block", f"blocks.{i}"
        k = 0
        if b["expand"] != 1:
            out[f"{q}.expand_conv.weight"] = src[f"{p}.0.0.weight"]
            bn(f"{q}.expand_bn", f"{p}.0.1", src, out)
            k = 1
        out[f"{q}.depthwise_conv.weight"] = src[f"{p}.{k}.0.weight"]
        bn(f"{q}.depthwise_bn", f"{p}.{k}.1", src, out)
        for a, c in (("reduce", "fc1"), ("expand", "fc2")):
            out[f"{q}.se.{a}.weight"] = src[f"{p}.{k + 1}.{c}.weight"]
            out[f"{q}.se.{a}.bias"] = src[f"{p}.{k + 1}.{c}.bias"]
        out[f"{q}.project_conv.weight"] = src[f"{p}.{k + 2}.0.weight"]
        bn(f"{q}.project_bn", f"{p}.{k + 2}.1", src, out)
    last = 1 + len(BLOCK_ARGS)
    out["head.conv.weight"] = src[f"features.{last}.0.weight"]
    bn("head.bn", f"features.{last}.1", src, out)
    out["classifier.weight"], out["classifier.bias"] = src["classifier.1.weight"], src["classifier.1.bias"]
    return out


def from_timm(src, arch):
    out = {"stem.conv.weight": src["conv_stem.weight"]}
    bn("stem.bn", "bn1", src, out)
    for i, b in enumerate(arch["blocks"]):
        p, q = f"blocks.{b['stage'] - 1}.{b['index_in_stage']}", f"blocks.{i}"
        if f"{p}.conv_pwl.weight" in src:  # inverted residual: conv_pw is the expansion
            out[f"{q}.expand_conv.weight"] = src[f"{p}.conv_pw.weight"]
            bn(f"{q}.expand_bn", f"{p}.bn1", src, out)
            dw_bn, proj, proj_bn = f"{p}.bn2", f"{p}.conv_pwl", f"{p}.bn3"
        else:  # depthwise-separable: conv_pw is the projection
            dw_bn, proj, proj_bn = f"{p}.bn1", f"{p}.conv_pw", f"{p}.bn2"
        out[f"{q}.depthwise_conv.weight"] = src[f"{p}.conv_dw.weight"]
        bn(f"{q}.depthwise_bn", dw_bn, src, out)
        if b["se"]:
            for a, c in (("reduce", "conv_reduce"), ("expand", "conv_expand")):
                out[f"{q}.se.{a}.weight"] = src[f"{p}.se.{c}.weight"]
                out[f"{q}.se.{a}.bias"] = src[f"{p}.se.{c}.bias"]
        out[f"{q}.project_conv.weight"] = src[f"{proj}.weight"]
        bn(f"{q}.project_bn", proj_bn, src, out)
    out["head.conv.weight"] = src["conv_head.weight"]
    bn("head.bn", "bn2", src, out)
    out["classifier.weight"], out["classifier.bias"] = src["classifier.weight"], src["classifier.bias"]
    return out


def from_keras(src, arch):
    # Keys look like "block1a_dwconv/block1a_dwconv/depthwise_kernel:0" (legacy h5) or
    # "block1a_dwconv/depthwise_kernel:0"; index them by (layer, variable).
    table = {}
    for k, v in src.items():
        parts = k.split("/")
        var = re.sub(r":\d+$", "", parts[-1])
        table[(parts[0], var)] = v
    if isinstance(src, UsageTracking):  # lookups go through `table`; unused layers are not an error
        src.used.update(src.keys())

    def get(layer, var):
        if (layer, var) not in table:
            raise SystemExit(f"convert: Keras file has no {layer}/{var}")
        return table[(layer, var)]

    def conv(layer):  # HWIO -> OIHW
        return np.transpose(get(layer, "kernel"), (3, 2, 0, 1))

    def kbn(dst, layer, out):
        out[f"{dst}.weight"], out[f"{dst}.bias"] = get(layer, "gamma"), get(layer, "beta")
        out[f"{dst}.running_mean"], out[f"{dst}.running_var"] = get(layer, "moving_mean"), get(layer, "moving_variance")

    out = {"stem.conv.weight": conv("stem_conv")}
    kbn("stem.bn", "stem_bn", out)
    for i, b in enumerate(arch["blocks"]):
        name, q = f"block{b['stage']}{chr(ord('a') + b['index_in_stage'])}", f"blocks.{i}"
        if b["expand"] != 1:
            out[f"{q}.expand_conv.weight"] = conv(f"{name}_expand_conv")
            kbn(f"{q}.expand_bn", f"{name}_expand_bn", out)
        dw = table.get((f"{name}_dwconv", "depthwise_kernel"), table.get((f"{name}_dwconv", "kernel")))
        if dw is None:
            raise SystemExit(f"convert: Keras file has no {name}_dwconv kernel")
        out[f"{q}.depthwise_conv.weight"] = np.transpose(dw, (2, 3, 0, 1))  # (kh,kw,C,1) -> (C,1,kh,kw)
        kbn(f"{q}.depthwise_bn", f"{name}_bn", out)
        if b["se"]:
            for a in ("reduce", "expand"):
                out[f"{q}.se.{a}.weight"] = conv(f"{name}_se_{a}")
                out[f"{q}.se.{a}.bias"] = get(f"{name}_se_{a}", "bias")
        out[f"{q}.project_conv.weight"] = conv(f"{name}_project_conv")
        kbn(f"{q}.project_bn", f"{name}_project_bn", out)
    out["head.conv.weight"] = conv("top_conv")
    kbn("head.bn", "top_bn", out)
    out["classifier.weight"] = np.transpose(get("predictions", "kernel"))
    out["classifier.bias"] = get("predictions", "bias")
    return out


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


def write_h5(path, tensors, attrs):
    import h5py
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for name, value in tensors.items():
            f.create_dataset(name, data=np.ascontiguousarray(np.asarray(value, dtype=np.float32)))
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
