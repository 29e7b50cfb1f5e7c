// CUDA kernels of softmax/log_softmax over an (outer, D, inner) view, computing in double over the
// formulas of softmax_kernels.h and row_math.h that the CPU calls. inner == 1 (last dimension):
// one warp per row for D <= 1024, one 512-thread block per row beyond; each reads the row three
// times (max, sum of exponentials, write), which stays in L1/L2 for rows this size. inner > 1:
// one thread per (outer, inner) column (an element functor), so a warp reads consecutive
// addresses.
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/row_math.h"
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
    double m = dev_neg_inf<double>();
    for (int64_t d = lane; d < D; d += 32) m = max_nan(double(px[d]), m);
    m = warp_max(m);
    double sum = 0.0;
    for (int64_t d = lane; d < D; d += 32) sum += std::exp(double(px[d]) - m);
    sum = warp_sum(sum);
    if (LOG) {
      const double lse = log_sum_exp(m, sum);
      for (int64_t d = lane; d < D; d += 32) py[d] = T(log_softmax_element(double(px[d]), lse));
    } else {
      const double inv = 1.0 / sum;
      for (int64_t d = lane; d < D; d += 32) py[d] = T(softmax_element(double(px[d]), m, inv));
    }
  }
}

template <class T, bool LOG>
__global__ void softmax_block_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t D) {
  __shared__ double smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* px = x + r * D;
    T* py = y + r * D;
    double m = dev_neg_inf<double>();
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) m = max_nan(double(px[d]), m);
    m = block_reduce<true>(m, smem);
    double sum = 0.0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += std::exp(double(px[d]) - m);
    sum = block_reduce<false>(sum, smem);
    if (LOG) {
      const double lse = log_sum_exp(m, sum);
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) py[d] = T(log_softmax_element(double(px[d]), lse));
    } else {
      const double inv = 1.0 / sum;
      for (int64_t d = threadIdx.x; d < D; d += blockDim.x) py[d] = T(softmax_element(double(px[d]), m, inv));
    }
  }
}

// One column of the (outer, D, inner) view: the CPU's row function.
template <class T, bool LOG>
struct SoftmaxColumn {
  const T* x;
  T* y;
  int64_t D, inner;
  __device__ void operator()(int64_t c) const {
    const int64_t base = (c / inner) * D * inner + c % inner;
    softmax_strided_row<LOG>(x + base, y + base, D, inner);
  }
};

// ---- backward ------------------------------------------------------------------------------------
template <class T, bool LOG>
__global__ void softmax_backward_warp_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                             int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const T *py = y + r * D, *pg = g + r * D;
    T* pdx = dx + r * D;
    double dot = 0.0;
    for (int64_t d = lane; d < D; d += 32) dot += softmax_backward_term<LOG>(double(py[d]), double(pg[d]));
    dot = warp_sum(dot);
    for (int64_t d = lane; d < D; d += 32)
      pdx[d] = T(softmax_backward_element<LOG>(double(py[d]), double(pg[d]), dot));
  }
}

template <class T, bool LOG>
__global__ void softmax_backward_block_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                              int64_t rows, int64_t D) {
  __shared__ double smem[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *py = y + r * D, *pg = g + r * D;
    T* pdx = dx + r * D;
    double dot = 0.0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      dot += softmax_backward_term<LOG>(double(py[d]), double(pg[d]));
    dot = block_reduce<false>(dot, smem);
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      pdx[d] = T(softmax_backward_element<LOG>(double(py[d]), double(pg[d]), dot));
  }
}

template <class T, bool LOG>
struct SoftmaxBackwardColumn {
  const T *y, *g;
  T* dx;
  int64_t D, inner;
  __device__ void operator()(int64_t c) const {
    const int64_t base = (c / inner) * D * inner + c % inner;
    softmax_backward_strided_row<LOG>(y + base, g + base, dx + base, D, inner);
  }
};

// Grid of whole rows for the block kernels, capped like grid_for (the kernels stride over rows).
unsigned row_blocks(int64_t rows) { return unsigned(rows < 65535LL * 8 ? rows : 65535LL * 8); }

template <class T, bool LOG>
void forward_typed(const T* x, T* y, const SoftmaxDims& s) {
  const int64_t rows = s.outer * s.inner;
  if (s.inner == 1 && s.D <= kWarpRowMaxD)
    cuda::launch(softmax_warp_kernel<T, LOG>, cuda::warp_per_row_grid(rows), cuda::kThreads, x, y, rows, s.D);
  else if (s.inner == 1)
    cuda::launch(softmax_block_kernel<T, LOG>, row_blocks(rows), kBlockRowThreads, x, y, rows, s.D);
  else
    cuda::for_each(rows, SoftmaxColumn<T, LOG>{x, y, s.D, s.inner});
}

template <class T, bool LOG>
void backward_typed(const T* y, const T* g, T* dx, const SoftmaxDims& s) {
  const int64_t rows = s.outer * s.inner;
  if (s.inner == 1 && s.D <= kWarpRowMaxD)
    cuda::launch(softmax_backward_warp_kernel<T, LOG>, cuda::warp_per_row_grid(rows), cuda::kThreads, y, g, dx, rows,
                 s.D);
  else if (s.inner == 1)
    cuda::launch(softmax_backward_block_kernel<T, LOG>, row_blocks(rows), kBlockRowThreads, y, g, dx, rows, s.D);
  else
    cuda::for_each(rows, SoftmaxBackwardColumn<T, LOG>{y, g, dx, s.D, s.inner});
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
