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
  optim_math::dispatch_update("SGD", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    T* buf = k.use_momentum ? momentum_buffer.data<T>() : nullptr;
    cuda::for_each(param.numel(), SgdStep<T>{k, param.data<T>(), grad.data<T>(), buf});
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const AdamConfig& config) {
  optim_math::dispatch_update("Adam", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    cuda::for_each(param.numel(),
                   AdamStep<T>{k, param.data<T>(), grad.data<T>(), exp_avg.data<T>(), exp_avg_sq.data<T>()});
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                    const RmspropConfig& config) {
  optim_math::dispatch_update("RMSprop", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    T* mom = k.use_momentum ? momentum_buffer.data<T>() : nullptr;
    cuda::for_each(param.numel(), RmspropStep<T>{k, param.data<T>(), grad.data<T>(), square_avg.data<T>(), mom});
  });
}

}  // namespace effnet::cuda_ops
