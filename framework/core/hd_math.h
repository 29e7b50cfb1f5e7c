// Branch-free float math for the per-element formulas of both backends (EFFNET_HD): bit casts, a
// select, e^x for x <= 0 and the stable sigmoid. On the CPU they let GCC vectorise the loops that
// call them (the build targets baseline x86-64, i.e. SSE2, and no -ffast-math, so libm's expf is
// a scalar call); the CUDA kernels call the very same code, so the float sigmoid and silu that
// the CPU tests check are the ones the GPU computes (up to FMA contraction, which nvcc applies
// and the SSE2 copy cannot).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "framework/core/host_device.h"

namespace effnet::hd_math {

// The bits of a value as another type of the same size (C++20's std::bit_cast): memcpy is the
// defined way in C++17, and GCC and nvcc both turn it into a register move.
template <class To, class From>
EFFNET_HD To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast: the sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// Picks a where cond holds, else b, as integer bit operations. A float `cond ? a : b` feeding
// further arithmetic stays a branch under GCC's default -ftrapping-math (if-conversion would have
// to speculate trapping operations), which blocks vectorisation of the whole loop.
EFFNET_HD float select(bool cond, float a, float b) {
  const uint32_t mask = uint32_t(0) - uint32_t(cond);
  const uint32_t ua = bit_cast<uint32_t>(a), ub = bit_cast<uint32_t>(b);
  return bit_cast<float>(ub ^ ((ua ^ ub) & mask));
}

// e^x for x <= 0 to within 2 ulp (NaN gives NaN), branch-free. Cody-Waite reduction x = n·ln2 + r
// with |r| <= ln2/2 and Cephes' expf polynomial for e^r; n is rounded by adding 1.5·2^23, whose
// low mantissa bits then hold n, so no float-to-int conversion is needed (NaN would make that
// undefined). 2^n is applied as two factors 2^(n/2)·2^(n - n/2), each a normal float, so that
// results in the subnormal range (down to e^-103.9) come out gradually rather than as zero: the
// stable sigmoid relies on that tail.
EFFNET_HD float exp_nonpositive(float x) {
  x = select(x < -104.0f, -104.0f, x);  // below, e^x rounds to 0 anyway; NaN compares false and stays
  constexpr float kMagic = 12582912.0f;  // 1.5·2^23
  const float t = x * 1.44269504088896341f + kMagic;
  const float n = t - kMagic;  // round(x / ln2), in [-150, 0]
  const int32_t ni = int32_t(bit_cast<uint32_t>(t) - bit_cast<uint32_t>(kMagic));
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
  return p * bit_cast<float>(uint32_t(n1 + 127) << 23) * bit_cast<float>(uint32_t(n2 + 127) << 23);
}

// The stable sigmoid: e^-|x| never overflows, and for x < 0 the quotient e^x / (1 + e^x) keeps
// the tiny left tail. NaN propagates through e.
EFFNET_HD float sigmoid(float x) {
  const float e = exp_nonpositive(-std::abs(x));
  return select(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

}  // namespace effnet::hd_math
