// CUDA halves of the optimizer updates: one grid-stride kernel launch per parameter tensor that
// reads the gradient and state once and writes parameter and state once (no temporaries).
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/optim/optim_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
__global__ void sgd_kernel(optim_math::SgdCoeffs<T> k, T* __restrict__ p, const T* __restrict__ g,
                           T* __restrict__ buf, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    optim_math::sgd_element(k, p[i], g[i], buf ? buf + i : nullptr);
}

template <class T>
__global__ void adam_kernel(optim_math::AdamCoeffs<T> k, T* __restrict__ p, const T* __restrict__ g,
                            T* __restrict__ m, T* __restrict__ v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    optim_math::adam_element(k, p[i], g[i], m[i], v[i]);
}

template <class T>
__global__ void rmsprop_kernel(optim_math::RmspropCoeffs<T> k, T* __restrict__ p, const T* __restrict__ g,
                               T* __restrict__ ms, T* __restrict__ mom, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    optim_math::rmsprop_element(k, p[i], g[i], ms[i], mom ? mom + i : nullptr);
}

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdConfig& config) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), "SGD", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* buf = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    sgd_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(k, param.data<scalar_t>(),
                                                                        grad.data<scalar_t>(), buf, n);
  });
  CUDA_CHECK_LAUNCH();
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const AdamConfig& config) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), "Adam", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    adam_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
        k, param.data<scalar_t>(), grad.data<scalar_t>(), exp_avg.data<scalar_t>(), exp_avg_sq.data<scalar_t>(), n);
  });
  CUDA_CHECK_LAUNCH();
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                    const RmspropConfig& config) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* mom = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    rmsprop_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
        k, param.data<scalar_t>(), grad.data<scalar_t>(), square_avg.data<scalar_t>(), mom, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
