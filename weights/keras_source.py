"""Reading Keras EfficientNet files (keras.applications.EfficientNetB0-B7) for weights/convert.py.

Three layouts, told apart by their contents:
  legacy HDF5      Keras 2 model.save_weights("w.h5"), model.save("m.h5") in Keras 2 or 3: groups
                   LAYER/LAYER/VAR[:0], under model_weights/ for a whole model (whose model_config
                   attribute holds every layer's settings); layer_names lists the layers in order
  Keras 3 weights  model.save_weights("w.weights.h5"): layers/CLASS[_N]/vars/I. A group is named
                   after its layer's class, numbered in model order (conv2d, conv2d_1, ...; Keras'
                   saving_lib does this on purpose, layer names being unreproducible), and variables
                   are numbered, not named. The names come from the order in which keras.applications
                   builds the network (efficientnet_layers below), and every shape is checked
  Keras 3 model    model.save("m.keras"): a zip of config.json (the layers in order, with settings)
                   and model.weights.h5 in the Keras 3 weights layout, mapped through the config
Each becomes one table "layer/variable" -> array under Keras' layer names (stem_conv/kernel,
block1a_bn/gamma, ...), plus the preprocessing layers the model applies before stem_conv, from which
input_normalisation() derives the equivalent mean/std exactly.
"""
import io
import json
import math
import re
import zipfile

import numpy as np

from efficientnet_layout import architecture, variant_with

# keras.applications.efficientnet: the ImageNet std whose square root its ImageNet models divide by
# a second time (after Normalization, which was given these values as variances; TF issue 49930).
KERAS_IMAGENET_STD = [0.229, 0.224, 0.225]
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization divides by max(sqrt(variance), this)

# Variables of each layer class, in the order Keras creates (and numbers) them.
VARIABLES = {
    "Conv2D": ("kernel", "bias"),
    "DepthwiseConv2D": ("depthwise_kernel", "bias"),
    "Dense": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "Normalization": ("mean", "variance", "count"),
}
PREPROCESSING = ("Rescaling", "Normalization")


class KerasWeights(dict):
    """"layer/variable" -> array, with the file's layout and its preprocessing layers: a list of
    (class, layer name, settings) in model order, settings None where the file does not record them
    (weights-only files: they are then the values keras.applications builds)."""

    def __init__(self, table, layout, preprocessing):
        super().__init__(table)
        self.layout, self.preprocessing = layout, preprocessing


def fail(message):
    raise SystemExit(f"convert: {message}")


def snake_case(class_name):
    """Keras' naming.to_snake_case, which names the groups of a Keras 3 weights file."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def block_name(b):
    """Keras' name of a block of architecture(): block<stage><letter>, block2b for stage 2's second."""
    return f"block{b['stage']}{chr(ord('a') + b['index_in_stage'])}"


def efficientnet_layers(arch, imagenet_rescaling):
    """(name, class) of keras.applications.EfficientNet's preprocessing and weighted layers, in model
    order (efficientnet.py: stem, block(), top). Weightless layers are left out: a Keras 3 file
    numbers each class separately, and none of them shares a class with these."""
    layers = [("rescaling", "Rescaling"), ("normalization", "Normalization")]
    if imagenet_rescaling:  # added when built with weights="imagenet"
        layers.append(("rescaling_1", "Rescaling"))
    layers += [("stem_conv", "Conv2D"), ("stem_bn", "BatchNormalization")]
    for b in arch["blocks"]:
        name = block_name(b)
        if b["expand"] != 1:
            layers += [(f"{name}_expand_conv", "Conv2D"), (f"{name}_expand_bn", "BatchNormalization")]
        layers += [(f"{name}_dwconv", "DepthwiseConv2D"), (f"{name}_bn", "BatchNormalization")]
        if b["se"]:
            layers += [(f"{name}_se_reduce", "Conv2D"), (f"{name}_se_expand", "Conv2D")]
        layers += [(f"{name}_project_conv", "Conv2D"), (f"{name}_project_bn", "BatchNormalization")]
    return layers + [("top_conv", "Conv2D"), ("top_bn", "BatchNormalization"), ("predictions", "Dense")]


def read(path):
    """The KerasWeights of a Keras file in any of the three layouts."""
    import h5py
    if zipfile.is_zipfile(path):
        return read_keras_archive(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: not an HDF5 file that h5py can open ({e}). Expected a Keras EfficientNet: "
             "legacy .h5, Keras 3 .weights.h5 or .keras")
    with f:
        if "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f:
            return read_keras3_weights(f["layers"], path)
        return read_legacy(f)


# ---- legacy HDF5 -------------------------------------------------------------------------------------
def read_legacy(f):
    import h5py
    root = f["model_weights"] if "model_weights" in f else f
    table = {}

    def visit(name, obj):  # LAYER/LAYER/VAR:0 (Keras 2), LAYER/LAYER/VAR (Keras 3), LAYER/VAR:0
        if isinstance(obj, h5py.Dataset):
            parts = name.split("/")
            variable = re.sub(r":\d+$", "", parts[-1])
            table[f"{parts[0]}/{variable}"] = obj[()]
    root.visititems(visit)
    if "model_config" in f.attrs:  # a whole model: every layer's settings
        config = json.loads(text(f.attrs["model_config"]))
        preprocessing = preprocessing_from_config(config_layers(config))
    else:  # weights only: the layer names (in order) tell which preprocessing layers the model has
        names = [text(n) for n in root.attrs.get("layer_names", [])]
        names = names[:names.index("stem_conv")] if "stem_conv" in names else []
        preprocessing = [("Rescaling" if n.startswith("rescaling") else "Normalization", n, None)
                         for n in names if re.fullmatch(r"(rescaling|normalization)(_\d+)?", n)]
    layout = "legacy Keras .h5 (whole model)" if "model_weights" in f else "legacy Keras .h5 (weights)"
    return KerasWeights(table, layout, preprocessing)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# ---- Keras 3 -------------------------------------------------------------------------------------------
def group_variables(group):
    """The arrays of a Keras 3 group's vars/ subgroup, by index."""
    if "vars" not in group:
        return []
    v = group["vars"]
    return [v[str(i)][()] for i in range(len(v))]


def keras3_table(layers, named, path, what):
    """Maps the groups of a Keras 3 layers/ group onto layer names: `named` lists (name, class,
    variable names) in model order, and a group is CLASS, CLASS_1, ... by position within its class.
    Groups with variables left over are errors: the file holds more than the network."""
    table, seen, counters = {}, set(), {}
    for name, cls, variables in named:
        base = snake_case(cls)
        counters[base] = counters.get(base, -1) + 1
        group = base if counters[base] == 0 else f"{base}_{counters[base]}"
        seen.add(group)
        if group not in layers:
            if cls in VARIABLES:
                fail(f"{path}: layers/{group} (Keras layer {name}) is missing; {what}")
            continue
        values = group_variables(layers[group])
        if len(values) > len(variables):
            fail(f"{path}: layers/{group} (Keras layer {name}, {cls}) has {len(values)} variables, "
                 f"expected at most {len(variables)} ({', '.join(variables)}); {what}")
        for var, value in zip(variables, values):
            table[f"{name}/{var}"] = value
    extra = [g for g in layers if g not in seen and group_variables(layers[g])]
    if extra:
        fail(f"{path}: {len(extra)} weighted layers have no place in the network ({', '.join(sorted(extra)[:6])}); "
             f"{what}")
    return table


def read_keras3_weights(layers, path):
    """model.save_weights("w.weights.h5"): the variant from the counts and widths of the layers, the
    names from keras.applications' construction order."""
    what = "expected keras.applications.EfficientNetB0-B7 saved with model.save_weights (include_top=True)"
    depthwise = [g for g in layers if re.fullmatch(r"depthwise_conv2d(_\d+)?", g)]
    convs = sorted((g for g in layers if re.fullmatch(r"conv2d(_\d+)?", g) and group_variables(layers[g])),
                   key=lambda g: int(g.rsplit("_", 1)[1]) if "_" in g else 0)
    if not depthwise or not convs:
        fail(f"{path}: a Keras 3 weights file without depthwise and regular convolutions "
             f"({len(depthwise)} depthwise_conv2d, {len(convs)} conv2d groups); {what}")
    stem, head = (group_variables(layers[g])[0].shape[-1] for g in (convs[0], convs[-1]))
    variant = variant_with(len(depthwise), stem, head, se=True)
    if variant is None:
        fail(f"{path}: no EfficientNet B0-B7 has {len(depthwise)} blocks, stem {stem} and head {head} channels; {what}")
    arch = architecture(variant)
    named = [(n, c, VARIABLES.get(c, ())) for n, c in efficientnet_layers(arch, "rescaling_1" in layers)]
    table = keras3_table(layers, named, path, what)
    preprocessing = [(c, n, None) for n, c, _ in named if c in PREPROCESSING]
    return KerasWeights(table, "Keras 3 .weights.h5", preprocessing)


def read_keras_archive(path):
    """model.save("m.keras"): the layer list in config.json names the groups of model.weights.h5."""
    import h5py
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if not {"config.json", "model.weights.h5"} <= names:
            fail(f"{path}: a zip without config.json and model.weights.h5, so not a Keras 3 .keras file "
                 f"(holds {', '.join(sorted(names)[:5])})")
        config = json.loads(z.read("config.json"))
        weights = io.BytesIO(z.read("model.weights.h5"))
    layers = config_layers(config)
    named = []
    for name, cls, settings in layers:
        variables = VARIABLES.get(cls, ())
        if cls == "BatchNormalization":  # gamma and beta exist only with scale / center
            variables = tuple(v for v, on in zip(variables, (settings.get("scale", True), settings.get("center", True),
                                                             True, True)) if on)
        if cls in ("Conv2D", "DepthwiseConv2D", "Dense") and not settings.get("use_bias", True):
            variables = variables[:1]
        named.append((name, cls, variables))
    with h5py.File(weights, "r") as f:
        table = keras3_table(f["layers"], named, path, "expected the model keras.applications.EfficientNetB0-B7 builds")
    return KerasWeights(table, "Keras 3 .keras", preprocessing_from_config(layers))


def config_layers(config):
    """(name, class, settings) of a model config's layers, in model order. A model nested inside the
    model (EfficientNet as a layer of a Sequential) is refused: its layers are not the network's."""
    layers = config.get("config", {}).get("layers")
    if not isinstance(layers, list):
        fail("the Keras model config lists no layers; expected a functional keras.applications EfficientNet")
    out = []
    for layer in layers:
        cls, settings = layer.get("class_name"), layer.get("config", {})
        if cls in ("Functional", "Sequential", "Model"):
            fail(f"the Keras model holds a whole model as its layer {settings.get('name')!r}; convert that model "
                 "on its own (save the EfficientNet itself)")
        out.append((settings.get("name", layer.get("name")), cls, settings))
    return out


def preprocessing_from_config(layers):
    """Rescaling and Normalization layers before stem_conv, with their settings."""
    out = []
    for name, cls, settings in layers:
        if name in ("stem_conv_pad", "stem_conv"):
            break
        if cls in PREPROCESSING:
            out.append((cls, name, settings))
    return out


def check_shapes(table, arch, path):
    """Every kernel has the shape keras.applications gives it, checked before any layout change so
    that the error names the Keras layer (Keras 3 weights files are mapped by order alone: this is
    what catches a file of another network with the same layer counts)."""
    def conv(k, cin, cout):
        return (k, k, cin, cout)
    want = {"stem_conv/kernel": conv(3, 3, arch["stem"]), "top_conv/kernel": conv(1, arch["blocks"][-1]["cout"], arch["head"])}
    for b in arch["blocks"]:
        name, mid = block_name(b), b["cin"] * b["expand"]
        if b["expand"] != 1:
            want[f"{name}_expand_conv/kernel"] = conv(1, b["cin"], mid)
        want[f"{name}_dwconv/depthwise_kernel"] = (b["kernel"], b["kernel"], mid, 1)
        if b["se"]:
            want[f"{name}_se_reduce/kernel"] = conv(1, mid, b["se"])
            want[f"{name}_se_expand/kernel"] = conv(1, b["se"], mid)
        want[f"{name}_project_conv/kernel"] = conv(1, mid, b["cout"])
    for key, shape in want.items():
        if key.endswith("/depthwise_kernel") and key not in table:  # Keras 3's legacy writer: "kernel"
            key = key.replace("/depthwise_kernel", "/kernel")
        got = tuple(np.shape(table[key])) if key in table else None
        if got != shape:
            fail(f"{path}: {key} has shape {got}, expected {shape} for EfficientNet-{arch['variant']}")


# ---- input normalisation -------------------------------------------------------------------------------
def input_normalisation(src):
    """(mean, std, description): the normalisation of [0, 1] RGB that equals the model's preprocessing
    layers applied to 0-255 pixels, as Keras computes them: Rescaling x * scale + offset, Normalization
    (x - mean) / max(sqrt(variance), epsilon). None where the file has no preprocessing layers.
    Settings a weights-only file does not record are those keras.applications builds: the first
    Rescaling 1/255, one after Normalization 1/sqrt(ImageNet std)."""
    if not src.preprocessing:
        return None
    a, b = np.full(3, 255.0), np.zeros(3)  # the layer input is a * u + b for the [0, 1] image u
    steps, normalised = [], False
    for cls, name, settings in src.preprocessing:
        if cls == "Rescaling":
            if settings is None:
                scale = [1 / math.sqrt(s) for s in KERAS_IMAGENET_STD] if normalised else 1 / 255
                offset, how = 0.0, ("1/sqrt(ImageNet std), keras.applications' ImageNet model" if normalised
                                    else "1/255, keras.applications'")
            else:
                scale, offset, how = settings.get("scale", 1.0), settings.get("offset", 0.0), "from the model config"
            scale, offset = channel_values(scale, name), channel_values(offset, name)
            a, b = a * scale, b * scale + offset
        else:
            if settings and settings.get("invert"):
                fail(f"Keras layer {name} is an inverted Normalization; it has no input normalisation equivalent")
            mean = (settings or {}).get("mean")
            variance = (settings or {}).get("variance")
            mean = channel_values(src.get(f"{name}/mean") if mean is None else mean, name)
            variance = channel_values(src.get(f"{name}/variance") if variance is None else variance, name)
            d = np.maximum(np.sqrt(variance), KERAS_EPSILON)
            a, b, normalised, how = a / d, (b - mean) / d, True, "mean and variance from the file"
        steps.append(f"{name} ({how})")
    std = 1.0 / a
    return [float(v) + 0.0 for v in -b * std], [float(v) for v in std], ", ".join(steps)


def channel_values(value, layer):
    """A setting or variable as three per-channel values (a scalar applies to every channel)."""
    if value is None:
        fail(f"Keras layer {layer} has no values in the file")
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 3)
    if v.size != 3 or not np.all(np.isfinite(v)):
        fail(f"Keras layer {layer} has {v.size} values {list(v)[:6]}; expected 1 or 3 finite ones (RGB)")
    return v


def imagenet_warning(src):
    """A weights-only file whose Normalization holds ImageNet's std as variances but no Rescaling after
    it is most likely Keras' own ImageNet download, which keras.applications completes with a
    1/sqrt(std) rescaling that the file cannot record; the user is told how to apply it."""
    classes = [c for c, n, s in src.preprocessing]
    if "Normalization" not in classes or any(s is not None for c, n, s in src.preprocessing):
        return None
    i = classes.index("Normalization")
    variance = np.ravel(src.get(f"{src.preprocessing[i][1]}/variance", [0]))
    if "Rescaling" not in classes[i + 1:] and variance.size == 3 and np.allclose(variance, KERAS_IMAGENET_STD):
        return ("convert: warning: the normalization layer holds ImageNet's std as variances and no rescaling "
                "follows it. keras.applications' ImageNet EfficientNets add a 1/sqrt(std) rescaling that "
                "weights-only files do not record; if this is such a file, pass --input-std 0.229 0.224 0.225")
    return None
