// Philox4x32-10, the counter-based generator behind every random tensor. Element i of a draw
// uses counter (offset + i) and key = seed, so the CPU and the GPU produce the same numbers for
// the same (seed, offset) regardless of how the work is split across threads.
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/host_device.h"

namespace effnet::philox {

struct Words {
  uint32_t x[4];
};

EFFNET_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

// Four random 32-bit words for one counter value.
EFFNET_HD Words generate(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Words{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
EFFNET_HD float uniform_float(const Words& w) { return float(w.x[0] >> 8) * (1.0f / 16777216.0f); }
EFFNET_HD double uniform_double(const Words& w) {
  uint64_t bits = (uint64_t(w.x[0]) << 21) ^ uint64_t(w.x[1] >> 11);
  return double(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

}  // namespace effnet::philox

namespace effnet::philox {

// a * b + c rounded twice, on host and device alike. nvcc contracts `a * b + c` into one fused
// multiply-add by default (--fmad=true) while the x86-64 host code does not, which would make the
// GPU draws differ from the CPU draws in the last bit; the _rn intrinsics are never contracted.
EFFNET_HD float mul_add_unfused(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(__fmul_rn(a, b), c);
#else
  volatile float p = a * b;  // volatile: no contraction even if the host build enables FMA
  return p + c;
#endif
}
EFFNET_HD double mul_add_unfused(double a, double b, double c) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(__dmul_rn(a, b), c);
#else
  volatile double p = a * b;
  return p + c;
#endif
}

// The value of element `counter` of each kind of draw; CPU loops and CUDA kernels both call these.
template <class T>
EFFNET_HD T sample_uniform(uint64_t seed, uint64_t counter, T low, T high);
template <>
EFFNET_HD float sample_uniform<float>(uint64_t seed, uint64_t counter, float low, float high) {
  return mul_add_unfused(high - low, uniform_float(generate(seed, counter)), low);
}
template <>
EFFNET_HD double sample_uniform<double>(uint64_t seed, uint64_t counter, double low, double high) {
  return mul_add_unfused(high - low, uniform_double(generate(seed, counter)), low);
}

// Box-Muller in double precision so that CPU and GPU agree to the last float bit (almost always).
EFFNET_HD double sample_normal(uint64_t seed, uint64_t counter, double mean, double std) {
  Words w = generate(seed, counter);
  double u1 = (double(w.x[0]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]: log is finite
  double u2 = double(w.x[1]) * (1.0 / 4294967296.0);
  // Global-namespace math: effnet::log/sqrt (unary ops on tensors) would otherwise hide them.
  return mul_add_unfused(std * ::sqrt(-2.0 * ::log(u1)), ::cos(6.283185307179586 * u2), mean);
}

EFFNET_HD int64_t sample_randint(uint64_t seed, uint64_t counter, int64_t low, int64_t high) {
  Words w = generate(seed, counter);
  uint64_t bits = (uint64_t(w.x[0]) << 32) | w.x[1];
  return low + int64_t(bits % uint64_t(high - low));
}

}  // namespace effnet::philox
