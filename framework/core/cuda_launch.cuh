// The launch code the CUDA kernels share: the flat grid-stride kernel over a functor (for_each),
// and the checked launch of kernels with a structure of their own (launch). Both run on the
// context's compute stream and check the launch; for_each launches nothing for n == 0. Only
// included by CUDA translation units.
#pragma once

#include <cstdint>
#include <utility>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/core/op_count.h"

namespace effnet::cuda {

constexpr int kThreads = 256;  // threads per block of the flat and warp-per-row kernels

namespace detail {
template <class F>
__global__ void for_each_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    f(i);
}
}  // namespace detail

// f(i) for every i in [0, n). f is a functor, a namespace-scope struct of pointers and scalars
// with a __device__ operator()(int64_t) const, copied to the kernel by value. Not a lambda:
// nvcc's extended __device__ lambdas cannot be defined inside the generic lambdas of
// dispatch_float, where most launches happen.
template <class F>
void for_each(int64_t n, const F& f) {
  if (n <= 0) return;
  detail::for_each_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(n, f);
  CUDA_CHECK_LAUNCH();
  count_cuda_launch();
}

// kernel<<<grid, block>>>(args...) on the compute stream, checked: for the kernels with real
// structure (a warp or a block per row, 2-D grids).
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, Args&&... args) {
  kernel<<<grid, block, 0, stream()>>>(std::forward<Args>(args)...);
  CUDA_CHECK_LAUNCH();
  count_cuda_launch();
}

// The grid of kThreads-blocks that gives each of `rows` rows one warp (the kernels stride over
// rows when the grid is capped).
inline unsigned warp_per_row_grid(int64_t rows) { return grid_for(rows * 32, kThreads); }

}  // namespace effnet::cuda
