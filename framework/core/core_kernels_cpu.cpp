// CPU halves of the core kernels: fill, dtype conversion, arange, the Philox draws and the
// engine's in-place arithmetic, each a loop over the shared element formulas of core_kernels.h
// and philox.h. The arithmetic loops run through parallel_for (threads, and the AVX2 copy where
// the CPU has it); the draws split over OpenMP threads, which cannot change them (counter-based).
#include "framework/core/core_kernels.h"

#include "framework/core/cpu_parallel.h"
#include "framework/core/philox.h"

namespace effnet::cpu {

void fill(void* dst, DType dtype, int64_t n, double value) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
    const T v = convert_element<T>(value);
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n) {
  dispatch_any_pair(dst_type, src_type, [&](auto dst_tag, auto src_tag) {
    using D = decltype(dst_tag);
    using S = decltype(src_tag);
    D* d = static_cast<D*>(dst);
    const S* s = static_cast<const S*>(src);
    for (int64_t i = 0; i < n; ++i) d[i] = convert_element<D>(s[i]);
  });
}

void arange(void* dst, DType dtype, int64_t n) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) p[i] = convert_element<T>(i);
  });
}

void uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low, double high) {
  dispatch_float(dtype, "uniform", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) p[i] = philox::sample_uniform<T>(seed, offset + uint64_t(i), T(low), T(high));
  });
}

void normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  dispatch_float(dtype, "normal", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) p[i] = T(philox::sample_normal(seed, offset + uint64_t(i), mean, std));
  });
}

void randint(int64_t* dst, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  for (int64_t i = 0; i < n; ++i) dst[i] = philox::sample_randint(seed, offset + uint64_t(i), low, high);
}

void axpy(void* out, const void* y, const void* x, DType dtype, int64_t n, double alpha) {
  dispatch_float(dtype, "axpy", [&](auto tag) {
    using T = decltype(tag);
    T* po = static_cast<T*>(out);
    const T *py = static_cast<const T*>(y), *px = static_cast<const T*>(x);
    const T a = T(alpha);
    parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) po[i] = axpy_element(py[i], a, px[i]);
    });
  });
}

void scale(void* y, DType dtype, int64_t n, double factor) {
  dispatch_float(dtype, "mul_", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(y);
    const T f = T(factor);
    parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) p[i] = scale_element(p[i], f);
    });
  });
}

}  // namespace effnet::cpu
