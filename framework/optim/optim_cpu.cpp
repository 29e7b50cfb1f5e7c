// CPU halves of the optimizer updates: one parallel loop per parameter tensor over the shared
// per-element formulas of optim_kernels.h (parallel_for: threads, and the AVX2 copy where the CPU
// has it).
#include "framework/core/cpu_parallel.h"
#include "framework/optim/optim_kernels.h"

namespace effnet::cpu {

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdConfig& config) {
  optim_math::dispatch_update("SGD", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = k.use_momentum ? momentum_buffer.data<T>() : nullptr;
    // Two loops, so that each is compiled with the momentum branch resolved.
    parallel_for(param.numel(), 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      if (buf) {
        for (int64_t i = lo; i < hi; ++i) optim_math::sgd_element(k, p[i], g[i], buf + i);
      } else {
        for (int64_t i = lo; i < hi; ++i) optim_math::sgd_element(k, p[i], g[i], static_cast<T*>(nullptr));
      }
    });
  });
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const AdamConfig& config) {
  optim_math::dispatch_update("Adam", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    T *p = param.data<T>(), *m = exp_avg.data<T>(), *v = exp_avg_sq.data<T>();
    const T* g = grad.data<T>();
    parallel_for(param.numel(), 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) optim_math::adam_element(k, p[i], g[i], m[i], v[i]);
    });
  });
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& momentum_buffer,
                    const RmspropConfig& config) {
  optim_math::dispatch_update("RMSprop", param, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    T *p = param.data<T>(), *ms = square_avg.data<T>();
    T* mom = k.use_momentum ? momentum_buffer.data<T>() : nullptr;
    const T* g = grad.data<T>();
    parallel_for(param.numel(), 32768, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      if (mom) {
        for (int64_t i = lo; i < hi; ++i) optim_math::rmsprop_element(k, p[i], g[i], ms[i], mom + i);
      } else {
        for (int64_t i = lo; i < hi; ++i) optim_math::rmsprop_element(k, p[i], g[i], ms[i], static_cast<T*>(nullptr));
      }
    });
  });
}

}  // namespace effnet::cpu
