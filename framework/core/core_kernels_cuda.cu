// CUDA halves of the core kernels: fill, dtype conversion, arange, the Philox draws and the
// engine's in-place arithmetic. Each is a functor over one element, calling the formulas of
// core_kernels.h and philox.h that the CPU half calls too, run by cuda::for_each.
#include "framework/core/core_kernels.h"
#include "framework/core/cuda_launch.cuh"
#include "framework/core/philox.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct Fill {
  T* p;
  T v;
  __device__ void operator()(int64_t i) const { p[i] = v; }
};

template <class D, class S>
struct Convert {
  D* d;
  const S* s;
  __device__ void operator()(int64_t i) const { d[i] = convert_element<D>(s[i]); }
};

template <class T>
struct Arange {
  T* p;
  __device__ void operator()(int64_t i) const { p[i] = convert_element<T>(i); }
};

template <class T>
struct Uniform {
  T* p;
  uint64_t seed, offset;
  T low, high;
  __device__ void operator()(int64_t i) const {
    p[i] = philox::sample_uniform<T>(seed, offset + uint64_t(i), low, high);
  }
};

template <class T>
struct Normal {
  T* p;
  uint64_t seed, offset;
  double mean, std;
  __device__ void operator()(int64_t i) const {
    p[i] = T(philox::sample_normal(seed, offset + uint64_t(i), mean, std));
  }
};

struct Randint {
  int64_t* p;
  uint64_t seed, offset;
  int64_t low, high;
  __device__ void operator()(int64_t i) const { p[i] = philox::sample_randint(seed, offset + uint64_t(i), low, high); }
};

template <class T>
struct Axpy {
  T* out;
  const T *y, *x;
  T alpha;
  __device__ void operator()(int64_t i) const { out[i] = axpy_element(y[i], alpha, x[i]); }
};

template <class T>
struct Scale {
  T* y;
  T factor;
  __device__ void operator()(int64_t i) const { y[i] = scale_element(y[i], factor); }
};

}  // namespace

void fill(void* dst, DType dtype, int64_t n, double value) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
    cuda::for_each(n, Fill<T>{p, convert_element<T>(value)});
  });
}

void convert(void* dst, DType dst_type, const void* src, DType src_type, int64_t n) {
  dispatch_any_pair(dst_type, src_type, [&](auto dst_tag, auto src_tag) {
    using D = decltype(dst_tag);
    using S = decltype(src_tag);
    cuda::for_each(n, Convert<D, S>{static_cast<D*>(dst), static_cast<const S*>(src)});
  });
}

void arange(void* dst, DType dtype, int64_t n) {
  dispatch_any(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst);
    cuda::for_each(n, Arange<T>{p});
  });
}

void uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low, double high) {
  dispatch_float(dtype, "uniform", [&](auto tag) {
    using T = decltype(tag);
    cuda::for_each(n, Uniform<T>{static_cast<T*>(dst), seed, offset, T(low), T(high)});
  });
}

void normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  dispatch_float(dtype, "normal", [&](auto tag) {
    using T = decltype(tag);
    cuda::for_each(n, Normal<T>{static_cast<T*>(dst), seed, offset, mean, std});
  });
}

void randint(int64_t* dst, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  cuda::for_each(n, Randint{dst, seed, offset, low, high});
}

void axpy(void* out, const void* y, const void* x, DType dtype, int64_t n, double alpha) {
  dispatch_float(dtype, "axpy", [&](auto tag) {
    using T = decltype(tag);
    cuda::for_each(n, Axpy<T>{static_cast<T*>(out), static_cast<const T*>(y), static_cast<const T*>(x), T(alpha)});
  });
}

void scale(void* y, DType dtype, int64_t n, double factor) {
  dispatch_float(dtype, "mul_", [&](auto tag) {
    using T = decltype(tag);
    cuda::for_each(n, Scale<T>{static_cast<T*>(y), T(factor)});
  });
}

}  // namespace effnet::cuda_ops
