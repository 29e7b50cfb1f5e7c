// CUDA kernels of max/argmax. inner == 1 (last dimension): one warp per row, each lane scanning a
// strided slice and the warp combining (value, index) pairs in the order of row_reduce.cuh, so the
// result matches the CPU scan (first index on ties, NaN wins). inner > 1: one thread per
// (outer, inner) column. Backward writes every dx element once (g at the argmax, else 0), which
// needs no separate zero fill.
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/reduce_max_kernels.h"
#include "framework/ops/row_reduce.cuh"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void max_warp_kernel(const T* __restrict__ x, T* __restrict__ values, int64_t* __restrict__ indices,
                                int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const T* px = x + r * D;
    // Lanes past the end hold (-inf, INT64_MAX), which loses to every real element.
    T best = dev_neg_inf<T>();
    int64_t best_i = INT64_MAX;
    for (int64_t d = lane; d < D; d += 32) {
      const T v = px[d];
      if (arg_better(v, d, best, best_i)) {
        best = v;
        best_i = d;
      }
    }
    warp_argmax(best, best_i);
    if (lane == 0) {
      values[r] = best;
      indices[r] = best_i;
    }
  }
}

template <class T>
__global__ void max_strided_kernel(const T* __restrict__ x, T* __restrict__ values, int64_t* __restrict__ indices,
                                   int64_t outer, int64_t D, int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(blockDim.x) * gridDim.x) {
    const T* px = x + (c / inner) * D * inner + c % inner;
    T best = px[0];
    int64_t best_i = 0;
    for (int64_t d = 1; d < D; ++d) {
      const T v = px[d * inner];
      if (arg_better(v, d, best, best_i)) {
        best = v;
        best_i = d;
      }
    }
    values[c] = best;
    indices[c] = best_i;
  }
}

template <class T>
__global__ void max_backward_kernel(const T* __restrict__ g, const int64_t* __restrict__ indices, T* __restrict__ dx,
                                    int64_t n, int64_t D, int64_t inner) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(blockDim.x) * gridDim.x) {
    const int64_t i = k % inner, d = (k / inner) % D, o = k / (inner * D);
    const int64_t r = o * inner + i;
    dx[k] = indices[r] == d ? g[r] : T(0);
  }
}

}  // namespace

void max_forward(const Tensor& x, Tensor& values, Tensor& indices, const MaxDims& s) {
  const int64_t rows = s.outer * s.inner;
  if (rows == 0) return;
  dispatch_float(x.dtype(), "max", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* pv = values.data<scalar_t>();
    int64_t* pi = indices.data<int64_t>();
    if (s.inner == 1)
      max_warp_kernel<scalar_t><<<cuda::grid_for(rows * 32), 256, 0, cuda::stream()>>>(px, pv, pi, rows, s.D);
    else
      max_strided_kernel<scalar_t><<<cuda::grid_for(rows), 256, 0, cuda::stream()>>>(px, pv, pi, s.outer, s.D,
                                                                                     s.inner);
  });
  CUDA_CHECK_LAUNCH();
}

void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s) {
  const int64_t n = dx.numel();
  if (n == 0) return;
  dispatch_float(g.dtype(), "max backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    max_backward_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
        g.data<scalar_t>(), indices.data<int64_t>(), dx.data<scalar_t>(), n, s.D, s.inner);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
