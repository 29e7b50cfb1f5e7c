// CUDA halves of the core kernels: fill, dtype conversion, arange and the Philox draws.
// Each kernel is a grid-stride loop over the elements; launches are checked.
#include "framework/core/context.h"
#include "framework/core/core_kernels.h"
#include "framework/core/cuda_check.h"
#include "framework/core/philox.h"

namespace effnet::cuda_kernels {
namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

template <class T>
__global__ void fill_kernel(T* p, int64_t n, T v) {
  GRID_STRIDE(i, n) p[i] = v;
}

template <class D, class S>
__global__ void convert_kernel(D* d, const S* s, int64_t n) {
  GRID_STRIDE(i, n) d[i] = D(s[i]);
}

template <class T>
__global__ void arange_kernel(T* p, int64_t n) {
  GRID_STRIDE(i, n) p[i] = T(i);
}

template <class T>
__global__ void uniform_kernel(T* p, int64_t n, uint64_t seed, uint64_t offset, T low, T high) {
  GRID_STRIDE(i, n) p[i] = philox::sample_uniform<T>(seed, offset + uint64_t(i), low, high);
}

template <class T>
__global__ void normal_kernel(T* p, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  GRID_STRIDE(i, n) p[i] = T(philox::sample_normal(seed, offset + uint64_t(i), mean, std));
}

__global__ void randint_kernel(int64_t* p, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  GRID_STRIDE(i, n) p[i] = philox::sample_randint(seed, offset + uint64_t(i), low, high);
}

template <class T>
__global__ void axpy_kernel(T* out, const T* y, const T* x, int64_t n, T alpha) {
  GRID_STRIDE(i, n) out[i] = y[i] + alpha * x[i];
}

template <class T>
__global__ void scale_kernel(T* y, int64_t n, T factor) {
  GRID_STRIDE(i, n) y[i] *= factor;
}

template <class F>
void launch(int64_t n, F&& f) {
  if (n == 0) return;
  f(cuda::grid_for(n), 256, cuda::stream());
  CUDA_CHECK_LAUNCH();
}

}  // namespace


void fill(void* dst, DType dtype, int64_t n, double value) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    switch (dtype) {
      case DType::Float32: fill_kernel<<<g, b, 0, s>>>(static_cast<float*>(dst), n, float(value)); break;
      case DType::Float64: fill_kernel<<<g, b, 0, s>>>(static_cast<double*>(dst), n, value); break;
      case DType::Int64: fill_kernel<<<g, b, 0, s>>>(static_cast<int64_t*>(dst), n, int64_t(value)); break;
    }
  });
}

void convert(void* dst, DType dt, const void* src, DType st, int64_t n) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    auto from = [&](auto* d) {
      switch (st) {
        case DType::Float32: convert_kernel<<<g, b, 0, s>>>(d, static_cast<const float*>(src), n); break;
        case DType::Float64: convert_kernel<<<g, b, 0, s>>>(d, static_cast<const double*>(src), n); break;
        case DType::Int64: convert_kernel<<<g, b, 0, s>>>(d, static_cast<const int64_t*>(src), n); break;
      }
    };
    switch (dt) {
      case DType::Float32: from(static_cast<float*>(dst)); break;
      case DType::Float64: from(static_cast<double*>(dst)); break;
      case DType::Int64: from(static_cast<int64_t*>(dst)); break;
    }
  });
}

void arange(void* dst, DType dtype, int64_t n) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    switch (dtype) {
      case DType::Float32: arange_kernel<<<g, b, 0, s>>>(static_cast<float*>(dst), n); break;
      case DType::Float64: arange_kernel<<<g, b, 0, s>>>(static_cast<double*>(dst), n); break;
      case DType::Int64: arange_kernel<<<g, b, 0, s>>>(static_cast<int64_t*>(dst), n); break;
    }
  });
}

void uniform(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double low, double high) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    if (dtype == DType::Float32)
      uniform_kernel<float><<<g, b, 0, s>>>(static_cast<float*>(dst), n, seed, offset, float(low), float(high));
    else
      uniform_kernel<double><<<g, b, 0, s>>>(static_cast<double*>(dst), n, seed, offset, low, high);
  });
}

void normal(void* dst, DType dtype, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    if (dtype == DType::Float32)
      normal_kernel<float><<<g, b, 0, s>>>(static_cast<float*>(dst), n, seed, offset, mean, std);
    else
      normal_kernel<double><<<g, b, 0, s>>>(static_cast<double*>(dst), n, seed, offset, mean, std);
  });
}

void randint(int64_t* dst, int64_t n, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    randint_kernel<<<g, b, 0, s>>>(dst, n, seed, offset, low, high);
  });
}

void axpy(void* out, const void* y, const void* x, DType dtype, int64_t n, double alpha) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    dispatch_float(dtype, "axpy", [&](auto tag) {
      using T = decltype(tag);
      axpy_kernel<T><<<g, b, 0, s>>>(static_cast<T*>(out), static_cast<const T*>(y), static_cast<const T*>(x), n, T(alpha));
    });
  });
}

void scale(void* y, DType dtype, int64_t n, double factor) {
  launch(n, [&](unsigned g, unsigned b, cudaStream_t s) {
    dispatch_float(dtype, "scale", [&](auto tag) {
      using T = decltype(tag);
      scale_kernel<T><<<g, b, 0, s>>>(static_cast<T*>(y), n, T(factor));
    });
  });
}

}  // namespace effnet::cuda_kernels
