// Reductions and transposes for the *_cpu.cpp kernels, written so that GCC vectorises the loops
// that call them (the build targets baseline x86-64, i.e. SSE2, and no -ffast-math, so floating
// sums stay serial unless written this way). The branch-free float math that both backends share
// (select, exp_nonpositive, sigmoid) is in framework/core/hd_math.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "framework/core/cpu_parallel.h"  // cpu_isa()
#include "framework/core/host_device.h"  // EFFNET_INLINE

namespace effnet::cpu::vec {

// Sum of f(0..n) in double. Float input is added in 16 independent float lanes (vectorised, and
// four SSE accumulators hide the add latency), folded to 4 and flushed into double every 1024
// terms, so that long sums keep double-like accuracy. Short sums go straight to double.
template <class T, class F>
EFFNET_INLINE inline double sum(int64_t n, F&& f) {
  constexpr int kLanes = 16;
  constexpr int64_t kBlock = 1024;
  double total = 0.0;
  int64_t i = 0;
  if (n >= 2 * kLanes) {
    for (int64_t b0 = 0; b0 + kLanes <= n; b0 += kBlock) {
      const int64_t b1 = std::min(n, b0 + kBlock);
      T lane[kLanes] = {};
      for (i = b0; i + kLanes <= b1; i += kLanes)
        for (int l = 0; l < kLanes; ++l) lane[l] += f(i + l);
      for (int l = 0; l < 4; ++l) lane[l] += lane[l + 4] + (lane[l + 8] + lane[l + 12]);
      total += (double(lane[0]) + double(lane[1])) + (double(lane[2]) + double(lane[3]));
    }
  }
  for (; i < n; ++i) total += double(f(i));
  return total;
}

}  // namespace effnet::cpu::vec

namespace effnet::cpu {

// The transposes take leading dimensions: src is rows x cols with its rows lds apart, and
// dst[c·ldd + r] = src[r·lds + c] (ldd = rows, lds = cols for whole matrices).

// On the calling thread; 16 x 16 tiles keep the rows read and the rows written in L1.
template <class T>
EFFNET_INLINE inline void transpose_scalar(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows,
                                           int64_t cols) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The float transpose with AVX2: 8 x 8 blocks through registers (unpack, shuffle, lane permute),
// 8 floats per load and store instead of one; the edges that do not fill a block go scalar.
// The depthwise kernels transpose every image in and out of channels-last, which with one
// element per instruction took most of their time.
__attribute__((target("avx2"))) inline void transpose_avx2(const float* src, int64_t lds, float* dst, int64_t ldd,
                                                           int64_t rows, int64_t cols) {
  const int64_t rb = rows / 8 * 8, cb = cols / 8 * 8;
  for (int64_t r0 = 0; r0 < rb; r0 += 8)
    for (int64_t c0 = 0; c0 < cb; c0 += 8) {
      const float* s = src + r0 * lds + c0;
      __m256 r[8], t[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * lds);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      float* d = dst + c0 * ldd + r0;
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(d + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
      }
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = (r < rb ? cb : 0); c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}
#endif

// On the calling thread, through the AVX2 blocks where the CPU has them.
template <class T>
EFFNET_INLINE inline void transpose_serial(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows,
                                           int64_t cols) {
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_isa() >= CpuIsa::Avx2 && rows >= 8 && cols >= 8) {
      transpose_avx2(src, lds, dst, ldd, rows, cols);
      return;
    }
  }
#endif
  transpose_scalar(src, lds, dst, ldd, rows, cols);
}

// dst (cols, rows) = transpose of src (rows, cols), both whole row-major matrices.
template <class T>
EFFNET_INLINE inline void transpose_serial(const T* src, T* dst, int64_t rows, int64_t cols) {
  transpose_serial(src, cols, dst, rows, rows, cols);
}

// The same over the OpenMP threads, in bands of 32 rows: rows r0.. of src are columns r0.. of dst.
template <class T>
void transpose_parallel(const T* src, T* dst, int64_t rows, int64_t cols) {
  constexpr int64_t kBand = 32;
#pragma omp parallel for if (rows * cols > 65536)
  for (int64_t r0 = 0; r0 < rows; r0 += kBand)
    transpose_serial(src + r0 * cols, cols, dst + r0, rows, std::min(kBand, rows - r0), cols);
}

}  // namespace effnet::cpu
