#!/usr/bin/env bash
# Installs the system dependencies the build, the tests and the apps need (Debian packages).
# Idempotent: packages already present are not fetched again. Runs as root (CI and dev machines).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libhdf5-dev hdf5-tools libstb-dev libgtest-dev libopenblas-dev zlib1g-dev
  python3-torch python3-torchvision python3-h5py python3-numpy python3-skimage
  dataset-fashion-mnist
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
