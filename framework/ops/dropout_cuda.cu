// CUDA kernels of dropout / drop_connect. Dropout (group 1): a grid-stride loop with one Philox
// call per element. Drop-connect: blockIdx.y walks the samples, so the keep decision is made once
// per thread and sample, and a dropped sample's input is never read.
#include <algorithm>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/dropout_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, uint64_t seed,
                               uint64_t offset, float threshold, T scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    out[i] = drop_keep(seed, offset + uint64_t(i), threshold) ? x[i] * scale : T(0);
}

template <class T>
__global__ void drop_groups_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t groups, int64_t group,
                                   uint64_t seed, uint64_t offset, float threshold, T scale) {
  for (int64_t k = blockIdx.y; k < groups; k += gridDim.y) {
    const bool keep = drop_keep(seed, offset + uint64_t(k), threshold);
    const T* px = x + k * group;
    T* po = out + k * group;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < group; i += int64_t(blockDim.x) * gridDim.x)
      po[i] = keep ? px[i] * scale : T(0);
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
      dropout_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
          x.data<scalar_t>(), out.data<scalar_t>(), n, m.seed, m.offset, m.threshold, scale);
    } else {
      const int64_t groups = n / m.group;
      dim3 grid(cuda::grid_for(m.group), unsigned(std::min<int64_t>(groups, 65535)));
      drop_groups_kernel<scalar_t><<<grid, 256, 0, cuda::stream()>>>(
          x.data<scalar_t>(), out.data<scalar_t>(), groups, m.group, m.seed, m.offset, m.threshold, scale);
    }
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
