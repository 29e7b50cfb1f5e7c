// CUDA kernels of sum/mean. inner == 1 (reducing trailing dims): one warp per output with shuffle
// reduction. inner > 1: one thread per (outer, inner) output looping over the reduced dim, which
// reads consecutive addresses across a warp.
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/reduce_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void sum_rows_kernel(const T* x, T* out, int64_t rows, int64_t reduce, double scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const T* p = x + warp * reduce;
  double acc = 0.0;
  for (int64_t r = lane; r < reduce; r += 32) acc += double(p[r]);
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) out[warp] = T(acc * scale);
}

template <class T>
__global__ void sum_middle_kernel(const T* x, T* out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  int64_t n = outer * inner;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(blockDim.x) * gridDim.x) {
    int64_t o = k / inner, i = k % inner;
    const T* p = x + o * reduce * inner + i;
    double acc = 0.0;
    for (int64_t r = 0; r < reduce; ++r) acc += double(p[r * inner]);
    out[k] = T(acc * scale);
  }
}

}  // namespace

void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (inner == 1) {
      int64_t threads = outer * 32;
      unsigned blocks = unsigned((threads + 255) / 256);
      sum_rows_kernel<scalar_t><<<blocks, 256, 0, cuda::stream()>>>(x.data<scalar_t>(), out.data<scalar_t>(), outer,
                                                                    reduce, scale);
    } else {
      sum_middle_kernel<scalar_t><<<cuda::grid_for(outer * inner), 256, 0, cuda::stream()>>>(
          x.data<scalar_t>(), out.data<scalar_t>(), outer, reduce, inner, scale);
    }
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
