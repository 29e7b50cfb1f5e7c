#!/usr/bin/env bash
# Prepares .gpu/ (ignored by git) with what a run on the lent GPU machine needs but cannot reach
# there: the PyTorch anchor scripts, the stb headers, the Fashion-MNIST files, and the Debian
# packages of the build's system dependencies (OpenBLAS, HDF5 and its runtime libraries, zlib,
# GoogleTest). scripts/gpu-env.sh unpacks them there into /tmp/effnet-sysroot and uses only the
# pieces that machine lacks (its image is not Debian's and is not known to hold them).
# Then: device run with carry [".gpu"] and command "bash scripts/gpu-check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
rm -rf .gpu && mkdir -p .gpu/anchors .gpu/stb .gpu/fashion-mnist .gpu/debs
cp ../shared/anchors/*.py ../shared/anchors/*.json .gpu/anchors/
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image_resize*.h .gpu/stb/ 2>/dev/null || true
# The dataset (30 MiB) only for scripts/gpu-ssl.sh (`gpu-carry.sh --data`): with the packages it
# would leave the 64 MiB that travels too little room for the working tree.
if [ "${1:-}" = "--data" ]; then cp /usr/share/datasets/fashion-mnist/*.gz .gpu/fashion-mnist/ 2>/dev/null || true; fi
# HDF5's runtime closure (libcurl and what it links) is carried whole; gpu-env.sh links in only
# the shared objects the machine cannot resolve itself, so none of them shadows the system's.
DEBS="libopenblas0-pthread libopenblas-pthread-dev libgfortran5
      libhdf5-dev libhdf5-103-1 libsz2 libaec0 zlib1g zlib1g-dev libgtest-dev
      libcurl4 libnghttp2-14 libidn2-0 librtmp1 libssh2-1 libpsl5 libgssapi-krb5-2 libldap-2.5-0
      libzstd1 libbrotli1 libunistring2 libgnutls30 libhogweed6 libnettle8 libgmp10 libkrb5-3
      libk5crypto3 libcom-err2 libkrb5support0 libsasl2-2 libp11-kit0 libtasn1-6 libkeyutils1
      libffi8 libssl3"
(cd .gpu/debs && apt-get download $DEBS >/dev/null 2>&1) \
  || echo "gpu-carry: could not download the dependency packages (apt-get download)" >&2
du -sh .gpu
