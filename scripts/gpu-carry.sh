#!/usr/bin/env bash
# Prepares .gpu/ (ignored by git) with what a run on the lent GPU machine needs but cannot reach
# there: the PyTorch anchor scripts, the stb headers, and the Fashion-MNIST files.
# Then: device run with carry [".gpu"] and command "bash scripts/gpu-check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
rm -rf .gpu && mkdir -p .gpu/anchors .gpu/stb .gpu/fashion-mnist
cp ../shared/anchors/*.py .gpu/anchors/
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image_resize*.h .gpu/stb/ 2>/dev/null || true
cp /usr/share/datasets/fashion-mnist/*.gz .gpu/fashion-mnist/ 2>/dev/null || true
du -sh .gpu
