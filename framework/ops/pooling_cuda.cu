// CUDA kernels of the pooling family, over the averaging formulas of pooling_kernels.h that the
// CPU calls. Forward: row_reduce.cuh's warp-per-row sum over each (n, c) plane, in double like
// the CPU's, finished by avg_pool_mean. Backward: an element functor writing g / (H*W).
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/pooling_kernels.h"
#include "framework/ops/row_reduce.cuh"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct AvgPoolBackward {
  const T* g;
  T* gx;
  int64_t hw;
  T inv_count;
  __device__ void operator()(int64_t i) const { gx[i] = avg_pool_grad(g[i / hw], inv_count); }
};

}  // namespace

void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw) {
  if (planes == 0) return;
  dispatch_float(x.dtype(), "global_avg_pool2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    warp_row_sum(x.data<scalar_t>(), out.data<scalar_t>(), planes, hw,
                 FinishWith<scalar_t, int64_t, avg_pool_mean<scalar_t>>{hw});
  });
}

void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw) {
  dispatch_float(g.dtype(), "global_avg_pool2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(planes * hw, AvgPoolBackward<scalar_t>{g.data<scalar_t>(), gx.data<scalar_t>(), hw,
                                                          avg_pool_inv_count<scalar_t>(hw)});
  });
}

}  // namespace effnet::cuda_ops
