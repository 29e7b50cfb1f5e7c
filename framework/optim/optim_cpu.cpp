// CPU halves of the optimizer updates: one parallel loop per parameter tensor over the shared
// per-element formulas of optim_kernels.h (parallel_for: threads, and the AVX2 copy where the CPU
// has it).
#include "framework/core/cpu_parallel.h"
#include "framework/optim/optim_kernels.h"

namespace effnet::cpu {

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdConfig& config) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "SGD", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* p = param.data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    scalar_t* buf = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    parallel_for(n, 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      if (buf) {
        for (int64_t i = lo; i < hi; ++i) optim_math::sgd_element(k, p[i], g[i], buf + i);
      } else {
        for (int64_t i = lo; i < hi; ++i) optim_math::sgd_element(k, p[i], g[i], static_cast<scalar_t*>(nullptr));
      }
    });
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const AdamConfig& config) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "Adam", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* p = param.data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    scalar_t* m = exp_avg.data<scalar_t>();
    scalar_t* v = exp_avg_sq.data<scalar_t>();
    parallel_for(n, 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) optim_math::adam_element(k, p[i], g[i], m[i], v[i]);
    });
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                    const RmspropConfig& config) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag) {
    using scalar_t = decltype(tag);
    const auto k = optim_math::coeffs<scalar_t>(config);
    scalar_t* p = param.data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    scalar_t* ms = square_avg.data<scalar_t>();
    scalar_t* mom = k.use_momentum ? momentum_buffer.data<scalar_t>() : nullptr;
    parallel_for(n, 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      if (mom) {
        for (int64_t i = lo; i < hi; ++i) optim_math::rmsprop_element(k, p[i], g[i], ms[i], mom + i);
      } else {
        for (int64_t i = lo; i < hi; ++i)
          optim_math::rmsprop_element(k, p[i], g[i], ms[i], static_cast<scalar_t*>(nullptr));
      }
    });
  });
}

}  // namespace effnet::cpu
