// Branch-free float math and reductions for the *_cpu.cpp kernels, written so that GCC vectorises
// the loops that call them (the build targets baseline x86-64, i.e. SSE2, and no -ffast-math, so
// libm's expf stays a scalar call and floating sums stay serial unless written this way).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "framework/core/host_device.h"  // EFFNET_INLINE

namespace effnet::cpu::vec {

EFFNET_INLINE inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
EFFNET_INLINE inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Picks a where cond holds, else b, as integer bit operations. A float `cond ? a : b` feeding
// further arithmetic stays a branch under GCC's default -ftrapping-math (if-conversion would have
// to speculate trapping operations), which blocks vectorisation of the whole loop.
EFFNET_INLINE inline float select(bool cond, float a, float b) {
  const uint32_t mask = uint32_t(0) - uint32_t(cond);
  const uint32_t ua = float_to_bits(a), ub = float_to_bits(b);
  return bits_to_float(ub ^ ((ua ^ ub) & mask));
}

// e^x for x <= 0 to within 2 ulp (NaN gives NaN), branch-free. Cody-Waite reduction x = n·ln2 + r
// with |r| <= ln2/2 and Cephes' expf polynomial for e^r; n is rounded by adding 1.5·2^23, whose
// low mantissa bits then hold n, so no float-to-int conversion is needed (NaN would make that
// undefined). 2^n is applied as two factors 2^(n/2)·2^(n - n/2), each a normal float, so that
// results in the subnormal range (down to e^-103.9) come out gradually rather than as zero: the
// stable sigmoid relies on that tail.
EFFNET_INLINE inline float exp_nonpositive(float x) {
  x = select(x < -104.0f, -104.0f, x);  // below, e^x rounds to 0 anyway; NaN compares false and stays
  constexpr float kMagic = 12582912.0f;  // 1.5·2^23
  const float t = x * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;  // round(x / ln2), in [-150, 0]
  const int32_t ni = int32_t(float_to_bits(t) - float_to_bits(kMagic));
  float r = x - n * 0.693359375f;  // ln2 split so that n·hi is exact
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t n1 = ni / 2, n2 = ni - n1;  // both in [-75, 0]
  return p * bits_to_float(uint32_t(n1 + 127) << 23) * bits_to_float(uint32_t(n2 + 127) << 23);
}

// The stable sigmoid: e^-|x| never overflows, and for x < 0 the quotient e^x / (1 + e^x) keeps
// the tiny left tail. NaN propagates through e.
EFFNET_INLINE inline float sigmoid(float x) {
  const float e = exp_nonpositive(-std::abs(x));
  return select(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

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

// dst (cols, rows) = transpose of src (rows, cols), row-major, on the calling thread; 16 x 16 tiles
// keep the rows read and the rows written in L1.
template <class T>
EFFNET_INLINE inline void transpose_scalar(const T* src, T* dst, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The float transpose with AVX2: 8 x 8 blocks through registers (unpack, shuffle, lane permute),
// 8 floats per load and store instead of one; the edges that do not fill a block go scalar.
// The depthwise kernels transpose every image in and out of channels-last, which with one
// element per instruction took most of their time.
__attribute__((target("avx2"))) inline void transpose_avx2(const float* src, float* dst, int64_t rows, int64_t cols) {
  const int64_t rb = rows / 8 * 8, cb = cols / 8 * 8;
  for (int64_t r0 = 0; r0 < rb; r0 += 8)
    for (int64_t c0 = 0; c0 < cb; c0 += 8) {
      const float* s = src + r0 * cols + c0;
      __m256 r[8], t[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * cols);
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
      float* d = dst + c0 * rows + r0;
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(d + i * rows, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * rows, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
      }
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = (r < rb ? cb : 0); c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}
#endif

// dst (cols, rows) = transpose of src (rows, cols), row-major, on the calling thread.
template <class T>
EFFNET_INLINE inline void transpose_serial(const T* src, T* dst, int64_t rows, int64_t cols) {
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<T, float>) {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2 && rows >= 8 && cols >= 8) {
      transpose_avx2(src, dst, rows, cols);
      return;
    }
  }
#endif
  transpose_scalar(src, dst, rows, cols);
}

}  // namespace effnet::cpu
