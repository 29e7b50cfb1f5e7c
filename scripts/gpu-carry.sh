#!/usr/bin/env bash
# Prepares .gpu/ (ignored by git) with what a run on the lent GPU machine needs but cannot reach
# there: the PyTorch anchor scripts, the stb headers, the Fashion-MNIST files, and Debian's
# OpenBLAS packages (scripts/gpu-env.sh unpacks them there when the machine has no OpenBLAS).
# Then: device run with carry [".gpu"] and command "bash scripts/gpu-check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
rm -rf .gpu && mkdir -p .gpu/anchors .gpu/stb .gpu/fashion-mnist .gpu/debs
cp ../shared/anchors/*.py .gpu/anchors/
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image_resize*.h .gpu/stb/ 2>/dev/null || true
cp /usr/share/datasets/fashion-mnist/*.gz .gpu/fashion-mnist/ 2>/dev/null || true
(cd .gpu/debs && apt-get download libopenblas0-pthread libopenblas-pthread-dev libgfortran5 >/dev/null 2>&1) \
  || echo "gpu-carry: could not download the OpenBLAS packages (apt-get download)" >&2
du -sh .gpu
