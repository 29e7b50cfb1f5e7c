"""Files written by Keras itself, and Keras' logits on them, for tests/test_keras_parity.cpp.

Runs with the TensorFlow/Keras virtual environment scripts/setup.sh makes (EFFNET_KERAS_VENV,
default /opt/effnet-keras), not with Debian's interpreter. For each case, a
keras.applications.EfficientNet with seeded random weights, perturbed batch-norm statistics and a
non-trivial input normalisation is saved in every layout weights/convert.py reads:
  OUT/CASE.weights.h5         model.save_weights (Keras 3's default weights format)
  OUT/CASE.keras              model.save (Keras 3 zip: config.json + model.weights.h5)
  OUT/CASE_legacy.h5          model.save("...h5"), the legacy whole-model HDF5
  OUT/CASE_legacy_weights.h5  Keras' legacy weights-only writer (what Keras 2's save_weights("w.h5")
                              wrote: layer_names and weight groups at the root)
  OUT/CASE_ref.h5             pixels (N, 3, H, W, 0-255), Keras' eval-mode logits on them, and the
                              input mean/std on [0, 1] that its preprocessing layers amount to
The "imagenet" case is built as keras.applications builds its ImageNet models (weights="imagenet":
an extra Rescaling by 1/sqrt(std) after Normalization, which holds ImageNet's std as variances),
with the download replaced by a file of random weights.
Exit status 77 (skipped) when Keras is missing. Usage: keras_reference.py OUT_DIR
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
try:
    import h5py
    import keras
    import numpy as np
except ImportError as e:
    print(f"SKIP: {e} (scripts/setup.sh installs TensorFlow/Keras into its own environment)")
    sys.exit(77)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# name -> (model, input size, classes, how it is built). 65 makes every stride-2 layer see an odd
# size (65, 33, 17, 9, 5), where TF SAME pads symmetrically; 224 gives even ones. "imagenet": as
# keras.applications builds its ImageNet models; "head": include_top=False with a head of the
# user's (GlobalAveragePooling2D, Dropout, Dense named "head"), the usual way to fine-tune.
CASES = {
    "b0_65": ("EfficientNetB0", 65, 10, "plain"),
    "b0_224": ("EfficientNetB0", 224, 10, "plain"),
    "b1_65": ("EfficientNetB1", 65, 7, "plain"),
    "b0_imagenet_224": ("EfficientNetB0", 224, 1000, "imagenet"),  # Keras allows ImageNet weights at 224 only
    "b0_head_65": ("EfficientNetB0", 65, 5, "head"),
}


def randomise(model, rng, normalisation):
    """Batch-norm statistics and biases away from their initial values (so that eval mode is not the
    identity); the Normalization layer set to `normalisation` (mean, variance)."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n),
                               rng.uniform(0.5, 1.5, n)])
        elif kind in ("Conv2D", "Dense") and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape)])
        elif kind == "Normalization":
            mean, variance = normalisation
            layer.set_weights([np.array(mean, np.float32), np.array(variance, np.float32), np.array(0, np.int64)])
            layer.finalize_state()  # the layer computes with copies made from its variables


def build(name, size, classes, kind, out):
    """The model of a case, random weights in place."""
    app = getattr(keras.applications, name)
    rng = np.random.default_rng(size * 1000 + classes + int(name[-1]))
    keras.utils.set_random_seed(size + classes)
    if kind == "head":
        base = app(weights=None, include_top=False, input_shape=(size, size, 3))
        x = keras.layers.GlobalAveragePooling2D()(base.output)
        x = keras.layers.Dropout(0.3)(x)
        model = keras.Model(base.input, keras.layers.Dense(classes, name="head")(x))
    if kind != "imagenet":
        if kind == "plain":
            model = app(weights=None, classes=classes, input_shape=(size, size, 3), classifier_activation=None)
        randomise(model, rng, ([0.45, 0.5, 0.55], [0.04, 0.09, 0.0625]))
        return model
    # keras.applications adds the ImageNet-only rescaling when weights="imagenet" and then loads the
    # file get_file returns: a file of random weights here, with the Normalization values Keras'
    # ImageNet files hold (the std given as variances).
    donor = app(weights=None, classes=classes, input_shape=(size, size, 3), classifier_activation=None)
    randomise(donor, rng, (IMAGENET_MEAN, IMAGENET_STD))
    path = os.path.join(out, "imagenet_donor.weights.h5")
    donor.save_weights(path)
    from keras.src.applications import efficientnet
    get_file = efficientnet.file_utils.get_file
    efficientnet.file_utils.get_file = lambda *a, **k: path
    try:
        model = app(weights="imagenet", classes=classes, input_shape=(size, size, 3), classifier_activation=None)
    finally:
        efficientnet.file_utils.get_file = get_file
    os.remove(path)
    assert [type(l).__name__ for l in model.layers[:4]] == ["InputLayer", "Rescaling", "Normalization", "Rescaling"]
    return model


def expected_normalisation(model):
    """The [0, 1] mean/std the preprocessing layers amount to, from the layers' own settings."""
    a, b = np.full(3, 255.0), np.zeros(3)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Rescaling":
            scale = np.broadcast_to(np.asarray(layer.scale, np.float64), 3)
            a, b = a * scale, b * scale + np.asarray(layer.offset, np.float64)
        elif kind == "Normalization":
            d = np.maximum(np.sqrt(np.asarray(layer.adapt_variance, np.float64)), 1e-7)
            a, b = a / d, (b - np.asarray(layer.adapt_mean, np.float64)) / d
        elif kind == "ZeroPadding2D":
            break
    return -b / a, 1 / a


def save_all(model, case, out):
    from keras.src.legacy.saving import legacy_h5_format
    model.save_weights(os.path.join(out, f"{case}.weights.h5"))
    model.save(os.path.join(out, f"{case}.keras"))
    model.save(os.path.join(out, f"{case}_legacy.h5"))
    with h5py.File(os.path.join(out, f"{case}_legacy_weights.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for case, (name, size, classes, kind) in CASES.items():
        model = build(name, size, classes, kind, out)
        pixels = np.random.default_rng(size).uniform(0, 255, (4, size, size, 3)).astype(np.float32)
        logits = np.asarray(model(pixels, training=False))
        save_all(model, case, out)
        # The fixture is only as good as what Keras reads back: the reloaded model must agree.
        again = np.asarray(keras.models.load_model(os.path.join(out, f"{case}.keras"))(pixels, training=False))
        np.testing.assert_allclose(again, logits, rtol=1e-6, atol=1e-6)
        mean, std = expected_normalisation(model)
        tmp = os.path.join(out, f"{case}_ref.h5.tmp")
        with h5py.File(tmp, "w") as f:
            f["pixels"] = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
            f["logits"] = logits.astype(np.float32)
            f["input_mean"] = mean
            f["input_std"] = std
        os.replace(tmp, os.path.join(out, f"{case}_ref.h5"))
        print(f"{case}: keras {keras.__version__}, logits {logits.shape}, |logits| {np.abs(logits).mean():.3f}, "
              f"mean {mean.round(4).tolist()} std {std.round(4).tolist()}")


if __name__ == "__main__":
    main()
