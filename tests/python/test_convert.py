#!/usr/bin/python3
"""Tests of weights/convert.py, run by ctest (python_test_convert) with Debian's /usr/bin/python3.

- naming and variant detection for each source: torchvision, lukemelas (and its Lite fork), timm,
  Keras;
- clear errors for files the converter does not recognise, naming what it expected;
- the Keras paths without Keras: a legacy Keras-2 .h5 and a Keras 3 .weights.h5 are built with
  h5py from a torchvision model's weights using the inverse of the layout transforms (HWIO kernels,
  depthwise (kh, kw, C, 1), dense (in, out), gamma/beta/moving_mean/moving_variance; legacy groups
  "layer/layer/var:0" with layer_names / weight_names attributes as Keras 2's hdf5_format.py saves,
  Keras 3 groups layers/CLASS_N/vars/I as its saving_lib saves). Converting either must give
  exactly the tensors of the direct torchvision conversion, and the input normalisation of the
  file's preprocessing layers; broken Keras files give one-line errors. Files written by Keras
  itself are tested in tests/test_keras_parity.cpp (logits against Keras);
- timm tf_ conversions record TF-SAME padding and BN eps 1e-3; Lite defaults to its official input
  normalisation, and --input-mean/--input-std override it.
Exit status 77 (ctest: skipped) when torch or h5py is missing; lukemelas / timm / Lite-fork cases
skip individually when scripts/setup.sh could not install those packages.
"""
import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tempfile
import unittest
import zlib

try:
    import h5py
    import numpy as np
    import torch
    import torchvision
except ImportError as e:  # Debian's python3-torch, python3-torchvision, python3-h5py
    print(f"SKIP: {e}")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERT = os.path.join(HERE, "..", "..", "weights", "convert.py")
sys.path.insert(0, os.path.dirname(CONVERT))
import convert  # noqa: E402


def have(module):
    return importlib.util.find_spec(module) is not None


def numpy_state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


_cache = {}


def torchvision_b0():
    """Seeded torchvision B0 with 10 classes and random BN statistics, as numpy arrays."""
    if "tv_b0" not in _cache:
        torch.manual_seed(0)
        m = torchvision.models.efficientnet_b0(num_classes=10)
        with torch.no_grad():
            for name, b in m.named_buffers():
                if name.endswith("running_mean"):
                    b.normal_(0, 0.1)
                elif name.endswith("running_var"):
                    b.uniform_(0.5, 1.5)
        _cache["tv_b0"] = numpy_state(m)
    return _cache["tv_b0"]


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(*args, subprocess_=False):
    """convert.py's command line: in this process (fast: torch is imported once), or as a real
    process to check the exit status and that errors are messages, not tracebacks."""
    if subprocess_:
        r = subprocess.run([sys.executable, CONVERT, *args], capture_output=True, text=True)
        return Result(r.returncode, r.stdout, r.stderr)
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            convert.main(list(args))
        except SystemExit as e:  # what the interpreter would print and return
            if isinstance(e.code, int):
                code = e.code
            elif e.code is not None:
                print(e.code, file=sys.stderr)
                code = 1
    return Result(code, out.getvalue(), err.getvalue())


def read_effnet(path):
    with h5py.File(path, "r") as f:
        tensors = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return tensors, attrs


# ---- a Keras-2 legacy .h5 built from effnet tensors (inverse of convert.from_keras) -------------------
def keras_layers(tensors, arch):
    """[(layer name, [(variable, array), ...]), ...] in Keras' layer order, weightless layers included."""
    def conv(name):  # OIHW -> HWIO
        return np.transpose(tensors[name], (2, 3, 1, 0))

    def bn(prefix):
        return [("gamma", tensors[f"{prefix}.weight"]), ("beta", tensors[f"{prefix}.bias"]),
                ("moving_mean", tensors[f"{prefix}.running_mean"]),
                ("moving_variance", tensors[f"{prefix}.running_var"])]

    layers = [("input_1", []), ("rescaling", []),
              ("normalization", [("mean", np.array([0.485, 0.456, 0.406], np.float32)),
                                 ("variance", np.array([0.229, 0.224, 0.225], np.float32)),
                                 ("count", np.array(0, np.int64))]),
              ("rescaling_1", []), ("stem_conv_pad", []),
              ("stem_conv", [("kernel", conv("stem.conv.weight"))]), ("stem_bn", bn("stem.bn")),
              ("stem_activation", [])]
    for i, b in enumerate(arch["blocks"]):
        name, q = f"block{b['stage']}{chr(ord('a') + b['index_in_stage'])}", f"blocks.{i}"
        if b["expand"] != 1:
            layers += [(f"{name}_expand_conv", [("kernel", conv(f"{q}.expand_conv.weight"))]),
                       (f"{name}_expand_bn", bn(f"{q}.expand_bn")), (f"{name}_expand_activation", [])]
        if b["index_in_stage"] == 0 and b["stage"] in (2, 3, 4, 6):
            layers.append((f"{name}_dwconv_pad", []))
        dw = np.transpose(tensors[f"{q}.depthwise_conv.weight"], (2, 3, 0, 1))  # (C,1,kh,kw) -> (kh,kw,C,1)
        layers += [(f"{name}_dwconv", [("depthwise_kernel", dw)]), (f"{name}_bn", bn(f"{q}.depthwise_bn")),
                   (f"{name}_activation", []), (f"{name}_se_squeeze", []), (f"{name}_se_reshape", [])]
        for a in ("reduce", "expand"):
            layers.append((f"{name}_se_{a}", [("kernel", conv(f"{q}.se.{a}.weight")),
                                              ("bias", tensors[f"{q}.se.{a}.bias"])]))
        layers += [(f"{name}_se_excite", []), (f"{name}_project_conv", [("kernel", conv(f"{q}.project_conv.weight"))]),
                   (f"{name}_project_bn", bn(f"{q}.project_bn"))]
        if b["index_in_stage"] > 0:
            layers += [(f"{name}_drop", []), (f"{name}_add", [])]
    layers += [("top_conv", [("kernel", conv("head.conv.weight"))]), ("top_bn", bn("head.bn")),
               ("top_activation", []), ("avg_pool", []), ("top_dropout", []),
               ("predictions", [("kernel", np.transpose(tensors["classifier.weight"])),
                                ("bias", tensors["classifier.bias"])])]
    return layers


def keras_class(name, weights):
    """The Keras class of a layer of keras_layers(), from its name and variables."""
    if re.fullmatch(r"(rescaling|normalization)(_\d+)?", name):
        return "Rescaling" if name.startswith("rescaling") else "Normalization"
    variables = [w for w, _ in weights]
    if not variables:
        return "Activation"  # any weightless class: Keras 3 numbers each class on its own
    return {"gamma": "BatchNormalization", "depthwise_kernel": "DepthwiseConv2D"}.get(
        variables[0], "Dense" if name == "predictions" else "Conv2D")


def model_config(layers):
    """A legacy model_config with the preprocessing settings keras.applications gives its ImageNet
    model (1/255 before Normalization, 1/sqrt(std) after it)."""
    import json
    config = []
    for name, weights in layers:
        cls, settings = keras_class(name, weights), {"name": name}
        if cls == "Rescaling":
            settings.update(scale=[1 / s ** 0.5 for s in convert.IMAGENET_STD] if name == "rescaling_1" else 1 / 255,
                            offset=0.0)
        config.append({"class_name": cls, "config": settings})
    return json.dumps({"class_name": "Functional", "config": {"name": "efficientnetb0", "layers": config}}).encode()


def write_keras3_weights(path, layers, extra=()):
    """Keras 3's model.save_weights layout: layers/CLASS[_N]/vars/I, numbered per class in model
    order; `extra` adds (group, [arrays]) groups after them."""
    import keras_source
    counters = {}
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for name, weights in layers:
            base = keras_source.snake_case(keras_class(name, weights))
            counters[base] = counters.get(base, -1) + 1
            g = f.create_group(f"layers/{base if counters[base] == 0 else f'{base}_{counters[base]}'}/vars")
            for i, (_, value) in enumerate(weights):
                g.create_dataset(str(i), data=np.ascontiguousarray(value))
        for group, arrays in extra:
            for i, value in enumerate(arrays):
                f.create_dataset(f"layers/{group}/vars/{i}", data=value)


def write_keras_h5(path, layers, whole_model):
    """Legacy Keras-2 layout: model.save() nests the layers under model_weights (with the model's JSON
    in the root attributes), model.save_weights() puts them at the root."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["backend"] = b"tensorflow"
        if whole_model:
            f.attrs["model_config"] = model_config(layers)
        root = f.create_group("model_weights") if whole_model else f
        root.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        for name, weights in layers:
            g = root.create_group(name)
            g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights], dtype="S")
            for w, value in weights:
                g.create_dataset(f"{name}/{w}:0", data=np.ascontiguousarray(value))


class Detection(unittest.TestCase):
    def test_torchvision(self):
        sd = torchvision_b0()
        self.assertEqual(convert.detect_naming(set(sd)), "torchvision")
        self.assertEqual(convert.detect_variant(sd, "torchvision"), "b0")
        sd3 = numpy_state(torchvision.models.efficientnet_b3())
        self.assertEqual(convert.detect_variant(sd3, "torchvision"), "b3")

    @unittest.skipUnless(have("efficientnet_pytorch"), "efficientnet_pytorch not installed (scripts/setup.sh)")
    def test_lukemelas(self):
        from efficientnet_pytorch import EfficientNet
        sd = numpy_state(EfficientNet.from_name("efficientnet-b1", num_classes=10))
        self.assertEqual(convert.detect_naming(set(sd)), "lukemelas")
        self.assertEqual(convert.detect_variant(sd, "lukemelas"), "b1")

    @unittest.skipUnless(have("efficientnet_lite_pytorch"), "efficientnet_lite_pytorch not installed (scripts/setup.sh)")
    def test_lukemelas_lite_fork(self):
        from efficientnet_lite_pytorch import EfficientNet
        sd = numpy_state(EfficientNet.from_name("efficientnet-lite0"))
        self.assertEqual(convert.detect_naming(set(sd)), "lukemelas")
        self.assertEqual(convert.detect_variant(sd, "lukemelas"), "lite0")  # no SE: not b0
        tensors, attrs = convert.convert(sd, "lukemelas", "lite0", "lite fork")
        self.assertEqual((attrs["activation"], attrs["squeeze_excitation"], attrs["fix_stem_head"]), ("relu6", 0, 1))
        self.assertEqual(attrs["padding"], "same")
        self.assertFalse(any(".se." in k for k in tensors))

    @unittest.skipUnless(have("timm"), "timm not installed (scripts/setup.sh)")
    def test_timm(self):
        import timm
        for name in ("efficientnet_b0", "tf_efficientnet_b0"):
            sd = numpy_state(timm.create_model(name, pretrained=False, num_classes=10))
            self.assertEqual(convert.detect_naming(set(sd)), "timm", name)  # identical keys: plain timm assumed
            self.assertEqual(convert.detect_variant(sd, "timm"), "b0", name)

    def test_keras(self):
        sd = torchvision_b0()
        arch = convert.architecture("b0")
        tensors, _ = convert.convert(sd, "torchvision", "b0", "tv")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "k.h5")
            write_keras_h5(path, keras_layers(tensors, arch), whole_model=True)
            src = convert.load_keras(path)
        self.assertIn("block2a_dwconv/depthwise_kernel", src)  # "layer/variable", whatever the layout
        self.assertEqual(src.layout, "legacy Keras .h5 (whole model)")
        self.assertEqual(convert.detect_naming(set(src)), "keras")
        self.assertEqual(convert.detect_variant(src, "keras"), "b0")


class Errors(unittest.TestCase):
    def assert_fails(self, result, *parts):
        self.assertNotEqual(result.returncode, 0, result.stdout)
        for p in parts:
            self.assertIn(p, result.stderr)
        self.assertNotIn("Traceback", result.stderr)  # a message, not a crash

    def test_unrecognised_state_dict_lists_what_was_expected(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "resnet.pth")
            torch.save(torchvision.models.resnet18().state_dict(), src)
            r = run_cli(src, os.path.join(d, "out.h5"), subprocess_=True)
            self.assertEqual(r.returncode, 1)
            self.assert_fails(r, "unrecognised checkpoint", "torchvision (features.0.0.weight)",
                              "lukemelas (_conv_stem.weight)", "timm (conv_stem.weight, blocks.*)",
                              "Keras (stem_conv/kernel)", "found: bn1.bias")
            self.assertFalse(os.path.exists(os.path.join(d, "out.h5")))

    def test_not_a_checkpoint(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "junk.pth")
            with open(src, "wb") as f:
                f.write(np.random.RandomState(0).bytes(1000))
            self.assert_fails(run_cli(src, os.path.join(d, "o.h5")), "junk.pth: not a PyTorch checkpoint")
            src = os.path.join(d, "junk.h5")
            with open(src, "wb") as f:
                f.write(np.random.RandomState(0).bytes(1000))
            self.assert_fails(run_cli(src, os.path.join(d, "o.h5")), "junk.h5: not an HDF5 file")
            self.assert_fails(run_cli(os.path.join(d, "absent.pth"), os.path.join(d, "o.h5")), "no such file")

    def test_other_layouts(self):
        with self.assertRaisesRegex(SystemExit, "already in effnet's format"):
            convert.detect_naming({"stem.conv.weight", "blocks.0.depthwise_conv.weight"})

    def test_missing_and_extra_tensors(self):
        sd = dict(torchvision_b0())
        with tempfile.TemporaryDirectory() as d:
            missing = {k: v for k, v in sd.items() if k != "features.3.1.block.1.0.weight"}
            torch.save({k: torch.from_numpy(v) for k, v in missing.items()}, os.path.join(d, "m.pth"))
            self.assert_fails(run_cli(os.path.join(d, "m.pth"), os.path.join(d, "o.h5"), "--model", "b0"),
                              "does not look like a torchvision EfficientNet-b0: missing 'features.3.1.block.1.0.weight'")
            extra = dict(sd, **{"features.9.0.weight": np.zeros((2, 2), np.float32)})
            torch.save({k: torch.from_numpy(v) for k, v in extra.items()}, os.path.join(d, "e.pth"))
            self.assert_fails(run_cli(os.path.join(d, "e.pth"), os.path.join(d, "o.h5")),
                              "1 tensors of the checkpoint have no place in EfficientNet-b0: features.9.0.weight")


KERAS_WRITERS = {  # file name -> writer, for each layout without Keras
    "legacy_model.h5": lambda path, layers: write_keras_h5(path, layers, whole_model=True),
    "legacy_weights.h5": lambda path, layers: write_keras_h5(path, layers, whole_model=False),
    "keras3.weights.h5": write_keras3_weights,
}


class Keras(unittest.TestCase):
    def test_keras_layouts_convert_to_the_torchvision_tensors(self):
        sd = torchvision_b0()
        arch = convert.architecture("b0")
        direct, direct_attrs = convert.convert(sd, "torchvision", "b0", "tv")
        self.assertEqual((direct_attrs["padding"], direct_attrs["bn_eps"]), ("symmetric", 1e-5))
        layers = keras_layers(direct, arch)
        with tempfile.TemporaryDirectory() as d:
            for name, write in KERAS_WRITERS.items():
                src, out = os.path.join(d, name), os.path.join(d, f"out_{name}")
                write(src, layers)
                r = run_cli(src, out)  # naming and variant detected
                self.assertEqual(r.returncode, 0, r.stderr)
                tensors, attrs = read_effnet(out)
                self.assertEqual(set(tensors), set(direct))
                for k, v in direct.items():
                    self.assertEqual(tensors[k].dtype, np.float32, k)
                    self.assertTrue(np.array_equal(tensors[k], v), k)
                self.assertEqual(attrs["variant"], "b0")
                self.assertEqual(attrs["num_classes"], 10)
                self.assertEqual(attrs["source"], f"keras:{name}")
                # Keras is TF lineage: SAME padding, eps 1e-3, momentum 0.99 in TF's convention.
                self.assertEqual(attrs["padding"], "same")
                self.assertAlmostEqual(attrs["bn_eps"], 1e-3)
                self.assertAlmostEqual(attrs["bn_momentum"], 0.01)
                # The file's layers: ImageNet's mean, and its std given as variances, made right by
                # rescaling_1 (from model_config, or as keras.applications builds it).
                np.testing.assert_allclose(attrs["input_mean"], convert.IMAGENET_MEAN, rtol=1e-7)
                np.testing.assert_allclose(attrs["input_std"], convert.IMAGENET_STD, rtol=1e-6)
                self.assertIn("the Keras file's layers: rescaling (", attrs["input_normalisation"])
                self.assertIn("rescaling_1 (", attrs["input_normalisation"])
                self.assertNotIn("warning", r.stderr)

    def test_normalisation_without_the_imagenet_rescaling(self):
        """Without rescaling_1 the model divides by sqrt(variance); a file holding ImageNet's std as
        variances gets the warning that Keras' own ImageNet download needs --input-std."""
        direct, _ = convert.convert(torchvision_b0(), "torchvision", "b0", "tv")
        layers = [l for l in keras_layers(direct, convert.architecture("b0")) if l[0] != "rescaling_1"]
        with tempfile.TemporaryDirectory() as d:
            for name, write in KERAS_WRITERS.items():
                src, out = os.path.join(d, name), os.path.join(d, "o.h5")
                write(src, layers)
                r = run_cli(src, out)
                self.assertEqual(r.returncode, 0, r.stderr)
                _, attrs = read_effnet(out)
                np.testing.assert_allclose(attrs["input_std"], np.sqrt(convert.IMAGENET_STD), rtol=1e-6, err_msg=name)
                if name == "legacy_model.h5":  # the config says there is no second rescaling
                    self.assertNotIn("warning", r.stderr)
                else:
                    self.assertIn("pass --input-std 0.229 0.224 0.225", r.stderr, name)
                r = run_cli(src, out, "--input-std", "0.229", "0.224", "0.225")
                self.assertNotIn("warning", r.stderr)
                _, attrs = read_effnet(out)
                np.testing.assert_allclose(attrs["input_std"], convert.IMAGENET_STD)
                np.testing.assert_allclose(attrs["input_mean"], convert.IMAGENET_MEAN, rtol=1e-7)
                self.assertTrue(attrs["input_normalisation"].startswith("--input-mean/--input-std (otherwise "))


class KerasErrors(unittest.TestCase):
    """Broken or foreign Keras files: one-line errors that name the layer."""

    def setUp(self):
        direct, _ = convert.convert(torchvision_b0(), "torchvision", "b0", "tv")
        self.layers = keras_layers(direct, convert.architecture("b0"))
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def convert_file(self, name, write, layers, *extra):
        src = os.path.join(self.dir.name, name)
        write(src, layers, *extra)
        r = run_cli(src, os.path.join(self.dir.name, "o.h5"), subprocess_=True)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir.name, "o.h5")))
        return r.stderr

    def test_extra_weighted_layer(self):
        err = self.convert_file("x.weights.h5", write_keras3_weights, self.layers,
                                [("dense_1", [np.zeros((10, 3), np.float32), np.zeros(3, np.float32)])])
        self.assertIn("1 weighted layers have no place in the network (dense_1)", err)
        err = self.convert_file("x.h5", KERAS_WRITERS["legacy_weights.h5"],
                                self.layers + [("extra_dense", [("kernel", np.zeros((10, 3), np.float32))])])
        self.assertIn("1 tensors of the checkpoint have no place in EfficientNet-b0: extra_dense/kernel", err)

    def test_missing_layer_and_wrong_shape(self):
        without = [l for l in self.layers if l[0] != "block3b_se_expand"]
        err = self.convert_file("m.weights.h5", write_keras3_weights, without)
        self.assertIn("layers/conv2d_64 (Keras layer top_conv) is missing", err)  # later conv2d groups shift by one
        err = self.convert_file("m.h5", KERAS_WRITERS["legacy_weights.h5"], without)
        self.assertIn("block3b_se_expand/kernel has shape None, expected (1, 1, 10, 240)", err)
        swapped = [(n, [(v, a.T) if n == "block2a_project_conv" else (v, a) for v, a in w]) for n, w in self.layers]
        err = self.convert_file("s.weights.h5", write_keras3_weights, swapped)
        self.assertIn("block2a_project_conv/kernel has shape (24, 96, 1, 1), expected (1, 1, 96, 24)", err)

    def test_own_classifier_head(self):
        """include_top=False plus a Dense of the user's: that Dense is the classifier; two are not."""
        renamed = [("head" if n == "predictions" else n, w) for n, w in self.layers]
        src, out = os.path.join(self.dir.name, "h.h5"), os.path.join(self.dir.name, "h_out.h5")
        KERAS_WRITERS["legacy_weights.h5"](src, renamed)
        r = run_cli(src, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        tensors, _ = read_effnet(out)
        np.testing.assert_array_equal(tensors["classifier.weight"], np.transpose(dict(self.layers[-1][1])["kernel"]))
        two = renamed + [("head_2", [("kernel", np.zeros((10, 3), np.float32)), ("bias", np.zeros(3, np.float32))])]
        err = self.convert_file("two.h5", KERAS_WRITERS["legacy_weights.h5"], two)
        self.assertIn("Keras file has 2 dense layers (head, head_2); expected one classifier after top_conv", err)

    def test_not_an_efficientnet(self):
        convs = [(f"conv{i}", [("kernel", np.zeros((3, 3, 3, 8), np.float32))]) for i in range(3)]
        err = self.convert_file("r.weights.h5", write_keras3_weights, convs)
        self.assertIn("a Keras 3 weights file without depthwise and regular convolutions (0 depthwise_conv2d, "
                      "3 conv2d groups)", err)
        b1ish = [l for l in self.layers if not l[0].startswith("block7")]
        err = self.convert_file("b.weights.h5", write_keras3_weights, b1ish)
        self.assertIn("no EfficientNet B0-B7 has 15 blocks", err)

    def test_nested_model_and_bad_archive(self):
        import json
        import zipfile
        path = os.path.join(self.dir.name, "nested.keras")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": [
                {"class_name": "Functional", "config": {"name": "efficientnetb0"}}]}}))
            z.writestr("model.weights.h5", b"")
        r = run_cli(path, os.path.join(self.dir.name, "o.h5"))
        self.assertIn("holds a whole model as its layer 'efficientnetb0'", r.stderr)
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "not keras")
        r = run_cli(path, os.path.join(self.dir.name, "o.h5"))
        self.assertIn("a zip without config.json and model.weights.h5", r.stderr)


class Integrity(unittest.TestCase):
    """The converter's files carry effnet's checksum header (weights/hdf5_integrity.h), which effnet
    verifies before HDF5 reads the file; h5py still opens them (it reads the block as a user block)."""

    def test_output_starts_with_the_checksum_of_the_rest(self):
        direct, attrs = convert.convert(torchvision_b0(), "torchvision", "b0", "tv")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "w.h5")
            convert.write_h5(out, direct, attrs)
            with open(out, "rb") as f:
                data = f.read()
            header, image = data[:512], data[512:]
            m = re.fullmatch(rb"effnet-h5 v1 crc32 ([0-9a-f]{8}) size (\d+)\n\0*", header)
            self.assertIsNotNone(m, header[:64])
            self.assertEqual(int(m.group(1), 16), zlib.crc32(image))
            self.assertEqual(int(m.group(2)), len(image))
            self.assertEqual(image[:8], b"\x89HDF\r\n\x1a\n")
            tensors, _ = read_effnet(out)
            self.assertEqual(set(tensors), set(direct))
            self.assertFalse(os.path.exists(out + ".tmp"))


@unittest.skipUnless(have("timm"), "timm not installed (scripts/setup.sh)")
class TimmTf(unittest.TestCase):
    def test_records_same_padding_and_tf_eps(self):
        import timm
        m = timm.create_model("tf_efficientnet_b0", pretrained=False, num_classes=10)
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "tf_b0.pth")
            torch.save(m.state_dict(), src)
            r = run_cli(src, os.path.join(d, "tf.h5"), "--naming", "timm_tf")
            self.assertEqual(r.returncode, 0, r.stderr)
            tensors, attrs = read_effnet(os.path.join(d, "tf.h5"))
            self.assertEqual(attrs["padding"], "same")
            self.assertAlmostEqual(attrs["bn_eps"], 1e-3)
            self.assertAlmostEqual(attrs["bn_momentum"], 0.1)  # timm keeps PyTorch's default
            self.assertEqual(attrs["source"], "timm_tf:tf_b0.pth")
            sd = numpy_state(m)
            self.assertTrue(np.array_equal(tensors["blocks.1.expand_conv.weight"], sd["blocks.1.0.conv_pw.weight"]))
            self.assertTrue(np.array_equal(tensors["blocks.0.project_conv.weight"], sd["blocks.0.0.conv_pw.weight"]))
            # Without --naming the keys say only "timm": plain timm is assumed, and the user is told.
            r = run_cli(src, os.path.join(d, "plain.h5"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Pass --naming timm_tf", r.stderr)
            _, attrs = read_effnet(os.path.join(d, "plain.h5"))
            self.assertEqual((attrs["padding"], attrs["bn_eps"]), ("symmetric", 1e-5))


class Normalisation(unittest.TestCase):
    def test_defaults(self):
        self.assertEqual(convert.default_normalisation("b0"), (convert.IMAGENET_MEAN, convert.IMAGENET_STD))
        mean, std = convert.default_normalisation("lite0")
        np.testing.assert_allclose(mean, [127 / 255] * 3)
        np.testing.assert_allclose(std, [128 / 255] * 3)

    def test_options(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "tv.pth")
            torch.save({k: torch.from_numpy(v) for k, v in torchvision_b0().items()}, src)
            out = os.path.join(d, "o.h5")
            r = run_cli(src, out, "--input-mean", "0.5", "--input-std", "0.25", "0.5", "0.125")
            self.assertEqual(r.returncode, 0, r.stderr)
            _, attrs = read_effnet(out)
            np.testing.assert_allclose(attrs["input_mean"], [0.5, 0.5, 0.5])
            np.testing.assert_allclose(attrs["input_std"], [0.25, 0.5, 0.125])
            r = run_cli(src, out, "--input-std", "0.25", "0.5")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--input-std needs one or three values", r.stderr)

    def test_resolution(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "tv.pth")
            torch.save({k: torch.from_numpy(v) for k, v in torchvision_b0().items()}, src)
            out = os.path.join(d, "o.h5")
            self.assertEqual(run_cli(src, out).returncode, 0)
            self.assertEqual(read_effnet(out)[1]["resolution"], 224)  # the variant's
            r = run_cli(src, out, "--resolution", "64")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(read_effnet(out)[1]["resolution"], 64)
            self.assertIn("resolution 64", r.stdout)
            r = run_cli(src, os.path.join(d, "bad.h5"), "--resolution", "0")
            self.assertIn("--resolution 0 is out of range", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "bad.h5")))


if __name__ == "__main__":
    torch.set_num_threads(2)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
