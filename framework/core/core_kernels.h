// Backend functions of the core (core_kernels_cpu.cpp, core_kernels_cuda.cu): fill, dtype
// conversion, arange, the Philox draws (philox.h holds their per-element samplers), and the
// in-place arithmetic the autograd engine sums gradients with. They take raw pointers: their
// callers are Tensor's own members and factories. The per-element formulas below are shared by
// both halves.
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/dtype.h"
#include "framework/core/host_device.h"

namespace effnet {

// The dtype conversion: of an element (convert), of an index (arange), of the fill value (fill).
template <class D, class S>
EFFNET_HD D convert_element(S s) {
  return D(s);
}

// out = y + alpha * x (axpy); y * factor (scale).
template <class T>
EFFNET_HD T axpy_element(T y, T alpha, T x) {
  return y + alpha * x;
}
template <class T>
EFFNET_HD T scale_element(T y, T factor) {
  return y * factor;
}

// axpy: out = y + alpha * x over floating dtypes, out may be y; scale: y *= factor.
#define EFFNET_CORE_BACKEND(X)                                                                                   \
  X(void, fill, (void* dst, DType dtype, int64_t n, double value))                                               \
  X(void, convert, (void* dst, DType dst_type, const void* src, DType src_type, int64_t n))                      \
  X(void, arange, (void* dst, DType dtype, int64_t n))                                                           \
  X(void, uniform, (void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low, double high)) \
  X(void, normal, (void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean, double std))  \
  X(void, randint, (int64_t * dst, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high))        \
  X(void, axpy, (void* out, const void* y, const void* x, DType dtype, int64_t n, double alpha))                 \
  X(void, scale, (void* y, DType dtype, int64_t n, double factor))
EFFNET_DECLARE_BACKENDS(EFFNET_CORE_BACKEND)

}  // namespace effnet
