// CUDA kernels of the pooling family. Forward: one warp per (n, c) plane, lanes stride over the
// plane (coalesced) and combine with shuffles. Backward: a flat kernel writing g / (H*W).
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/pooling_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void global_avg_pool_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t planes, int64_t hw) {
  const int64_t plane = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (plane >= planes) return;  // whole warps leave together: blockDim is a multiple of 32
  const T* p = x + plane * hw;
  double acc = 0.0;
  for (int64_t i = lane; i < hw; i += 32) acc += double(p[i]);
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) out[plane] = T(acc / double(hw));
}

template <class T>
__global__ void global_avg_pool_backward_kernel(const T* __restrict__ g, T* __restrict__ gx, int64_t n, int64_t hw,
                                                T inv_hw) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    gx[i] = g[i / hw] * inv_hw;
}

}  // namespace

void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw) {
  if (planes == 0) return;
  dispatch_float(x.dtype(), "global_avg_pool2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const int64_t threads = planes * 32;
    global_avg_pool_kernel<scalar_t><<<unsigned((threads + 255) / 256), 256, 0, cuda::stream()>>>(
        x.data<scalar_t>(), out.data<scalar_t>(), planes, hw);
  });
  CUDA_CHECK_LAUNCH();
}

void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw) {
  const int64_t n = planes * hw;
  if (n == 0) return;
  dispatch_float(g.dtype(), "global_avg_pool2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    global_avg_pool_backward_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
        g.data<scalar_t>(), gx.data<scalar_t>(), n, hw, scalar_t(1.0 / double(hw)));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
