// CUDA kernels of dropout / drop_connect, over the keep decision and element step of
// dropout_kernels.h. Dropout (group 1): an element functor with one Philox call per element.
// Drop-connect: blockIdx.y walks the samples, so the keep decision is made once per thread and
// sample, and a dropped sample's input is never read.
#include <algorithm>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/dropout_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct DropElements {
  const T* x;
  T* out;
  uint64_t seed, offset;
  float threshold;
  T scale;
  __device__ void operator()(int64_t i) const {
    out[i] = drop_element(drop_keep(seed, offset + uint64_t(i), threshold), x[i], scale);
  }
};

template <class T>
__global__ void drop_groups_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t groups, int64_t group,
                                   uint64_t seed, uint64_t offset, float threshold, T scale) {
  for (int64_t k = blockIdx.y; k < groups; k += gridDim.y) {
    const bool keep = drop_keep(seed, offset + uint64_t(k), threshold);
    const T* px = x + k * group;
    T* po = out + k * group;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < group; i += int64_t(blockDim.x) * gridDim.x)
      po[i] = keep ? drop_element(true, px[i], scale) : T(0);  // px is read for kept samples only
  }
}

}  // namespace

void apply_drop_mask(const Tensor& x, const DropMask& m, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t scale = scalar_t(m.scale);
    if (m.group == 1) {
      cuda::for_each(n, DropElements<scalar_t>{x.data<scalar_t>(), out.data<scalar_t>(), m.seed, m.offset,
                                               m.threshold, scale});
    } else {
      const int64_t groups = n / m.group;
      const dim3 grid(cuda::grid_for(m.group), unsigned(std::min<int64_t>(groups, 65535)));
      cuda::launch(drop_groups_kernel<scalar_t>, grid, cuda::kThreads, x.data<scalar_t>(), out.data<scalar_t>(),
                   groups, m.group, m.seed, m.offset, m.threshold, scale);
    }
  });
}

}  // namespace effnet::cuda_ops
