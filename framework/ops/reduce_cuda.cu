// CUDA kernels of sum/mean, accumulating in double like the CPU and finishing with the shared
// sum_result. inner == 1 (reducing trailing dims): row_reduce.cuh's warp-per-row sum.
// inner > 1: an element functor per (outer, inner) output looping over the reduced dim, which
// reads consecutive addresses across a warp.
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/reduce_kernels.h"
#include "framework/ops/row_reduce.cuh"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct SumMiddle {
  const T* x;
  T* out;
  int64_t reduce, inner;
  double scale;
  __device__ void operator()(int64_t k) const {
    const int64_t o = k / inner, i = k % inner;
    const T* p = x + o * reduce * inner + i;
    double acc = 0.0;
    for (int64_t r = 0; r < reduce; ++r) acc += double(p[r * inner]);
    out[k] = sum_result<T>(acc, scale);
  }
};

}  // namespace

void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (inner == 1)
      warp_row_sum(x.data<scalar_t>(), out.data<scalar_t>(), outer, reduce,
                   FinishWith<scalar_t, double, sum_result<scalar_t>>{scale});
    else
      cuda::for_each(outer * inner,
                     SumMiddle<scalar_t>{x.data<scalar_t>(), out.data<scalar_t>(), reduce, inner, scale});
  });
}

}  // namespace effnet::cuda_ops
