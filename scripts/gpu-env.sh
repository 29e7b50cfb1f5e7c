# Sourced by scripts/gpu-check.sh and scripts/gpu-ssl.sh on the lent GPU machine: finds what the
# build needs there and says what it found, so that a missing piece shows in the first call.
# That machine's image has nvcc, CMake, ninja, g++ and PyTorch (whose wheels carry cuDNN and
# cuBLAS); whether it has OpenBLAS, HDF5, zlib or GoogleTest headers is not known, and it has no
# network. So:
#   OpenBLAS, HDF5, zlib, GoogleTest  the system's if it has the headers, else the Debian packages
#             that scripts/gpu-carry.sh put in .gpu/debs, unpacked into /tmp/effnet-sysroot (not
#             into /, and not into the working tree, which travels)
#   cuDNN     the CUDA toolkit's or the system's if it has cudnn.h, else the nvidia-cudnn wheel's
#   cuBLAS    the toolkit's if it has libcublas.so, else the nvidia cu13 wheel's
#   stb       .gpu/stb (carried)
# Sets CMAKE_DEP_FLAGS (an array for cmake) and LD_LIBRARY_PATH; prints one line per dependency;
# defines configure_gpu_build (build-gpu/ for sm_90, log in $OUT/configure.log).

export PATH=/opt/torch/.venv/bin:$PATH
CMAKE_DEP_FLAGS=()
PYSITE=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}

add_lib_path() { [ -d "$1" ] && export LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; return 0; }
first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return 0; }; done; return 1; }
say() { printf 'deps: %-9s %s\n' "$1" "$2"; }

# The carried Debian packages (scripts/gpu-carry.sh) are unpacked into /tmp/effnet-sysroot once;
# each dependency below uses them only when the system lacks its headers. Their shared objects are
# not put on the library path wholesale (a carried libssl or libz would shadow the system's for
# PyTorch too): only those whose soname the system cannot resolve are linked into one folder.
SYSROOT=/tmp/effnet-sysroot
SYSLIB=$SYSROOT/usr/lib/x86_64-linux-gnu
if ls .gpu/debs/*.deb >/dev/null 2>&1 && [ ! -d "$SYSROOT/usr" ]; then
  mkdir -p "$SYSROOT"
  for d in .gpu/debs/*.deb; do dpkg -x "$d" "$SYSROOT"; done
  mkdir -p "$SYSROOT/missing"
  known=$(ldconfig -p 2>/dev/null | awk 'NR > 1 {print $1}')
  for f in "$SYSLIB"/*.so.* "$SYSROOT"/lib/x86_64-linux-gnu/*.so.* "$SYSLIB"/openblas-pthread/*.so.*; do
    [ -e "$f" ] || continue
    so=$(basename "$f")
    grep -qxF "$so" <<<"$known" || ln -sf "$f" "$SYSROOT/missing/$so"
  done
fi
[ -d "$SYSROOT/missing" ] && add_lib_path "$SYSROOT/missing"
carried() { [ -d "$SYSROOT/usr" ]; }

# OpenBLAS
if first /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h /usr/include/openblas/cblas.h \
         /usr/include/cblas.h >/dev/null; then
  say openblas "system"
elif carried; then
  CMAKE_DEP_FLAGS+=("-DOPENBLAS_INCLUDE_DIR=$SYSROOT/usr/include/x86_64-linux-gnu/openblas-pthread"
                    "-DOPENBLAS_LIBRARY=$SYSLIB/openblas-pthread/libopenblas.so")
  add_lib_path "$SYSLIB/openblas-pthread"
  say openblas "carried Debian packages ($SYSROOT)"
else
  say openblas "MISSING (no cblas.h and no .gpu/debs: run scripts/gpu-carry.sh and carry .gpu)"
fi

# HDF5 (C library only): the system's when it has hdf5.h, else the carried 1.10 serial build
if first /usr/include/hdf5/serial/hdf5.h /usr/include/hdf5.h >/dev/null; then
  say hdf5 "system"
elif carried && [ -f "$SYSROOT/usr/include/hdf5/serial/hdf5.h" ]; then
  CMAKE_DEP_FLAGS+=("-DEFFNET_HDF5_INCLUDE_DIR=$SYSROOT/usr/include/hdf5/serial"
                    "-DEFFNET_HDF5_LIBRARY=$SYSLIB/hdf5/serial/libhdf5.so")
  say hdf5 "carried Debian packages"
else
  say hdf5 "MISSING"
fi

# zlib
if [ -f /usr/include/zlib.h ]; then
  say zlib "system"
elif carried && [ -f "$SYSROOT/usr/include/zlib.h" ]; then
  CMAKE_DEP_FLAGS+=("-DZLIB_INCLUDE_DIR=$SYSROOT/usr/include" "-DZLIB_LIBRARY=$SYSLIB/libz.so")
  say zlib "carried Debian packages"
else
  say zlib "MISSING"
fi

# GoogleTest: the carried package holds static libraries and a relocatable CMake package
if first /usr/include/gtest/gtest.h /usr/local/include/gtest/gtest.h >/dev/null; then
  say gtest "system"
elif carried && [ -f "$SYSLIB/cmake/GTest/GTestConfig.cmake" ]; then
  CMAKE_DEP_FLAGS+=("-DGTest_DIR=$SYSLIB/cmake/GTest")
  say gtest "carried Debian packages"
else
  say gtest "MISSING"
fi

# cuDNN
if h=$(first "$CUDA_HOME/include/cudnn.h" /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h); then
  say cudnn "system ($h)"
elif [ -n "$PYSITE" ] && [ -f "$PYSITE/nvidia/cudnn/include/cudnn.h" ]; then
  lib=$(ls "$PYSITE"/nvidia/cudnn/lib/libcudnn.so* 2>/dev/null | head -1)
  CMAKE_DEP_FLAGS+=("-DCUDNN_INCLUDE_DIR=$PYSITE/nvidia/cudnn/include" "-DCUDNN_LIBRARY=$lib")
  say cudnn "wheel ($lib)"
else
  say cudnn "MISSING"
fi
[ -n "$PYSITE" ] && add_lib_path "$PYSITE/nvidia/cudnn/lib"

# cuBLAS
if first "$CUDA_HOME"/lib64/libcublas.so "$CUDA_HOME"/targets/x86_64-linux/lib/libcublas.so >/dev/null; then
  say cublas "toolkit"
  add_lib_path "$CUDA_HOME/targets/x86_64-linux/lib"
elif [ -n "$PYSITE" ] && lib=$(first "$PYSITE"/nvidia/cu13/lib/libcublas.so.13 "$PYSITE"/nvidia/cublas/lib/libcublas.so.13); then
  inc=$(dirname "$(dirname "$lib")")/include
  CMAKE_DEP_FLAGS+=("-DCUDA_cublas_LIBRARY=$lib" "-DCMAKE_CXX_FLAGS=-I$inc" "-DCMAKE_CUDA_FLAGS=-I$inc")
  add_lib_path "$(dirname "$lib")"
  say cublas "wheel ($lib)"
else
  say cublas "MISSING"
fi

# stb
if [ -f .gpu/stb/stb_image.h ]; then
  CMAKE_DEP_FLAGS+=("-DSTB_INCLUDE_DIR=$PWD/.gpu/stb"); say stb "carried"
elif [ -f /usr/include/stb/stb_image.h ]; then say stb "system"; else say stb "MISSING"; fi

# Configures build-gpu/ for sm_90 with what was found; fails, showing why, when the configuration
# fails or leaves the CUDA backend off (every CUDA test would then skip).
configure_gpu_build() {
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 "${CMAKE_DEP_FLAGS[@]}" \
    >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; return 1; }
  grep -q "CUDA backend ON" "$OUT/configure.log" \
    || { echo "configure: CUDA backend OFF"; grep -E "effnet:|CUDA" "$OUT/configure.log"; return 1; }
}
