// CUDA kernels of max/argmax, in the order of row_math.h (first index on ties, NaN wins) that the
// CPU scan follows too. inner == 1 (last dimension): one warp per row (row_reduce.cuh's
// warp_row_argmax). inner > 1: an element functor per (outer, inner) column running the CPU's
// argmax_scan. Backward writes every dx element once (g at the argmax, else 0, the shared
// max_backward_element), which needs no separate zero fill.
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/reduce_max_kernels.h"
#include "framework/ops/row_reduce.cuh"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void max_warp_kernel(const T* __restrict__ x, T* __restrict__ values, int64_t* __restrict__ indices,
                                int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const ArgMax<T> m = warp_row_argmax(x + r * D, D);
    if (lane == 0) {
      values[r] = m.value;
      indices[r] = m.index;
    }
  }
}

// One (outer, inner) column: the CPU's scan.
template <class T>
struct MaxColumn {
  const T* x;
  T* values;
  int64_t* indices;
  int64_t D, inner;
  __device__ void operator()(int64_t c) const {
    const ArgMax<T> m = argmax_scan(x + (c / inner) * D * inner + c % inner, D, inner);
    values[c] = m.value;
    indices[c] = m.index;
  }
};

template <class T>
struct MaxBackward {
  const T* g;
  const int64_t* indices;
  T* dx;
  int64_t D, inner;
  __device__ void operator()(int64_t k) const {
    const int64_t i = k % inner, d = (k / inner) % D, o = k / (inner * D);
    const int64_t r = o * inner + i;
    dx[k] = max_backward_element(d, indices[r], g[r]);
  }
};

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
      cuda::launch(max_warp_kernel<scalar_t>, cuda::warp_per_row_grid(rows), cuda::kThreads, px, pv, pi, rows, s.D);
    else
      cuda::for_each(rows, MaxColumn<scalar_t>{px, pv, pi, s.D, s.inner});
  });
}

void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s) {
  dispatch_float(g.dtype(), "max backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(dx.numel(), MaxBackward<scalar_t>{g.data<scalar_t>(), indices.data<int64_t>(), dx.data<scalar_t>(),
                                                     s.D, s.inner});
  });
}

}  // namespace effnet::cuda_ops
