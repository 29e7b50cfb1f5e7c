// CUDA kernels of softmax/log_softmax over an (outer, D, inner) view. inner == 1 (last
// dimension): one warp per row for D <= 1024, one 512-thread block per row beyond; each reads the
// row three times (max, sum of exponentials, write), which stays in L1/L2 for rows this size.
// inner > 1: one thread per (outer, inner) column, so a warp reads consecutive addresses.
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/row_reduce.cuh"
#include "framework/ops/softmax_kernels.h"

namespace effnet::cuda_ops {
namespace {

constexpr int64_t kWarpRowMaxD = 1024;
constexpr int kBlockRowThreads = 512;

// ---- forward -------------------------------------------------------------------------------------
template <class T, bool LOG>
__global__ void softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const T* px = x + r * D;
    T* py = y + r * D;
    T m = dev_neg_inf<T>();
    for (int64_t d = lane; d < D; d += 32) m = max_nan(m, px[d]);
    m = warp_max(m);
    T sum = 0;
    for (int64_t d = lane; d < D; d += 32) sum += dev_exp(px[d] - m);
    sum = warp_sum(sum);
    if (LOG) {
      const T lse = m + dev_log(sum);
      for (int64_t d = lane; d < D; d += 32) py[d] = px[d] - lse;
    } else {
      const T inv = T(1) / sum;
      for (int64_t d = lane; d < D; d += 32) py[d] = dev_exp(px[d] - m) * inv;
    }
  }
}

template <class T, bool LOG>
__global__ void softmax_block_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t D) {
  __shared__ T smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* px = x + r * D;
    T* py = y + r * D;
    T m = dev_neg_inf<T>();
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) m = max_nan(m, px[d]);
    m = block_reduce<true>(m, smem);
    T sum = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += dev_exp(px[d] - m);
    sum = block_reduce<false>(sum, smem);
    if (LOG) {
      const T lse = m + dev_log(sum);
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) py[d] = px[d] - lse;
    } else {
      const T inv = T(1) / sum;
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) py[d] = dev_exp(px[d] - m) * inv;
    }
  }
}

template <class T, bool LOG>
__global__ void softmax_strided_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t D,
                                       int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(blockDim.x) * gridDim.x) {
    const int64_t base = (c / inner) * D * inner + c % inner;
    const T* px = x + base;
    T* py = y + base;
    T m = dev_neg_inf<T>();
    for (int64_t d = 0; d < D; ++d) m = max_nan(m, px[d * inner]);
    T sum = 0;
    for (int64_t d = 0; d < D; ++d) sum += dev_exp(px[d * inner] - m);
    if (LOG) {
      const T lse = m + dev_log(sum);
      for (int64_t d = 0; d < D; ++d) py[d * inner] = px[d * inner] - lse;
    } else {
      const T inv = T(1) / sum;
      for (int64_t d = 0; d < D; ++d) py[d * inner] = dev_exp(px[d * inner] - m) * inv;
    }
  }
}

// ---- backward ------------------------------------------------------------------------------------
// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g).
template <class T, bool LOG>
__device__ __forceinline__ T row_term(T y, T g) { return LOG ? g : g * y; }
template <class T, bool LOG>
__device__ __forceinline__ T grad_of(T y, T g, T dot) { return LOG ? g - dev_exp(y) * dot : y * (g - dot); }

template <class T, bool LOG>
__global__ void softmax_backward_warp_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                             int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const T *py = y + r * D, *pg = g + r * D;
    T* pdx = dx + r * D;
    T dot = 0;
    for (int64_t d = lane; d < D; d += 32) dot += row_term<T, LOG>(py[d], pg[d]);
    dot = warp_sum(dot);
    for (int64_t d = lane; d < D; d += 32) pdx[d] = grad_of<T, LOG>(py[d], pg[d], dot);
  }
}

template <class T, bool LOG>
__global__ void softmax_backward_block_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                              int64_t rows, int64_t D) {
  __shared__ T smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *py = y + r * D, *pg = g + r * D;
    T* pdx = dx + r * D;
    T dot = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) dot += row_term<T, LOG>(py[d], pg[d]);
    dot = block_reduce<false>(dot, smem);
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) pdx[d] = grad_of<T, LOG>(py[d], pg[d], dot);
  }
}

template <class T, bool LOG>
__global__ void softmax_backward_strided_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                                int64_t outer, int64_t D, int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols; c += int64_t(blockDim.x) * gridDim.x) {
    const int64_t base = (c / inner) * D * inner + c % inner;
    const T *py = y + base, *pg = g + base;
    T* pdx = dx + base;
    T dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += row_term<T, LOG>(py[d * inner], pg[d * inner]);
    for (int64_t d = 0; d < D; ++d) pdx[d * inner] = grad_of<T, LOG>(py[d * inner], pg[d * inner], dot);
  }
}

// Grid of whole rows for the block kernels, capped like grid_for (the kernels stride over rows).
unsigned row_blocks(int64_t rows) { return unsigned(rows < 65535LL * 8 ? rows : 65535LL * 8); }

template <class T, bool LOG>
void forward_typed(const T* x, T* y, const SoftmaxDims& s) {
  const int64_t rows = s.outer * s.inner;
  cudaStream_t st = cuda::stream();
  if (s.inner == 1 && s.D <= kWarpRowMaxD)
    softmax_warp_kernel<T, LOG><<<cuda::grid_for(rows * 32), 256, 0, st>>>(x, y, rows, s.D);
  else if (s.inner == 1)
    softmax_block_kernel<T, LOG><<<row_blocks(rows), kBlockRowThreads, 0, st>>>(x, y, rows, s.D);
  else
    softmax_strided_kernel<T, LOG><<<cuda::grid_for(rows), 256, 0, st>>>(x, y, s.outer, s.D, s.inner);
  CUDA_CHECK_LAUNCH();
}

template <class T, bool LOG>
void backward_typed(const T* y, const T* g, T* dx, const SoftmaxDims& s) {
  const int64_t rows = s.outer * s.inner;
  cudaStream_t st = cuda::stream();
  if (s.inner == 1 && s.D <= kWarpRowMaxD)
    softmax_backward_warp_kernel<T, LOG><<<cuda::grid_for(rows * 32), 256, 0, st>>>(y, g, dx, rows, s.D);
  else if (s.inner == 1)
    softmax_backward_block_kernel<T, LOG><<<row_blocks(rows), kBlockRowThreads, 0, st>>>(y, g, dx, rows, s.D);
  else
    softmax_backward_strided_kernel<T, LOG><<<cuda::grid_for(rows), 256, 0, st>>>(y, g, dx, s.outer, s.D, s.inner);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log) {
  if (x.numel() == 0) return;
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (log) forward_typed<scalar_t, true>(x.data<scalar_t>(), y.data<scalar_t>(), s);
    else forward_typed<scalar_t, false>(x.data<scalar_t>(), y.data<scalar_t>(), s);
  });
}

void softmax_backward(const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log) {
  if (y.numel() == 0) return;
  dispatch_float(y.dtype(), log ? "log_softmax backward" : "softmax backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (log) backward_typed<scalar_t, true>(y.data<scalar_t>(), g.data<scalar_t>(), dx.data<scalar_t>(), s);
    else backward_typed<scalar_t, false>(y.data<scalar_t>(), g.data<scalar_t>(), dx.data<scalar_t>(), s);
  });
}

}  // namespace effnet::cuda_ops
