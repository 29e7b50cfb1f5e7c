// CUDA halves of the optimizer updates: one element functor per optimizer over the shared formulas
// of optim_kernels.h, one cuda::for_each launch per parameter tensor that reads the gradient and
// state once and writes parameter and state once (no temporaries).
#include "framework/core/cuda_launch.cuh"
#include "framework/optim/optim_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T>
struct SgdStep {
  optim_math::SgdCoeffs<T> k;
  T* p;
  const T* g;
  T* buf;  // null without momentum
  __device__ void operator()(int64_t i) const { optim_math::sgd_element(k, p[i], g[i], buf ? buf + i : nullptr); }
};

template <class T>
struct AdamStep {
  optim_math::AdamCoeffs<T> k;
  T* p;
  const T* g;
  T *m, *v;
  __device__ void operator()(int64_t i) const { optim_math::adam_element(k, p[i], g[i], m[i], v[i]); }
};

template <class T>
struct RmspropStep {
  optim_math::RmspropCoeffs<T> k;
  T* p;
  const T* g;
  T* ms;
  T* mom;  // null without momentum
  __device__ void operator()(int64_t i) const {
    optim_math::rmsprop_element(k, p[i], g[i], ms[i], mom ? mom + i : nullptr);
  }
};

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdConfig& config) {
  dispatch_float(param.dtype(), "SGD", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* buf = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    cuda::for_each(param.numel(), SgdStep<scalar_t>{k, param.data<scalar_t>(), grad.data<scalar_t>(), buf});
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const AdamConfig& config) {
  dispatch_float(param.dtype(), "Adam", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    cuda::for_each(param.numel(), AdamStep<scalar_t>{k, param.data<scalar_t>(), grad.data<scalar_t>(),
                                                     exp_avg.data<scalar_t>(), exp_avg_sq.data<scalar_t>()});
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                    const RmspropConfig& config) {
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* mom = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    cuda::for_each(param.numel(), RmspropStep<scalar_t>{k, param.data<scalar_t>(), grad.data<scalar_t>(),
                                                        square_avg.data<scalar_t>(), mom});
  });
}

}  // namespace effnet::cuda_ops
