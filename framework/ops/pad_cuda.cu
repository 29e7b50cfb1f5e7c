// CUDA kernel of pad2d: one thread per output element; reads the shifted input element or writes 0.
// Serves both padding (forward) and cropping (backward) through signed offsets.
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/pad_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void pad2d_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t total, int64_t hi, int64_t wi,
                             int64_t ho, int64_t wo, int64_t top, int64_t left) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(blockDim.x) * gridDim.x) {
    const int64_t j = k % wo, i = (k / wo) % ho, b = k / (wo * ho);
    const int64_t si = i - top, sj = j - left;
    out[k] = (si >= 0 && si < hi && sj >= 0 && sj < wi) ? in[(b * hi + si) * wi + sj] : T(0);
  }
}

}  // namespace

void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const int64_t hi = in.size(-2), wi = in.size(-1), ho = out.size(-2), wo = out.size(-1);
  dispatch_float(in.dtype(), "pad2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    pad2d_kernel<scalar_t><<<cuda::grid_for(total), 256, 0, cuda::stream()>>>(
        in.data<scalar_t>(), out.data<scalar_t>(), total, hi, wi, ho, wo, top, left);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
