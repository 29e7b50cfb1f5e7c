// CPU halves of the optimizer updates: a whole group of parameter tensors updated by one parallel
// loop over the shared per-element formulas of optim_kernels.h. The loop runs over the group's
// elements laid end to end, so that the threads share the work evenly however the sizes vary
// (a B0 has 213 tensors from 16 to 1.3 M elements), and each stretch through vectorised().
#include <algorithm>

#include "framework/core/cpu_parallel.h"
#include "framework/optim/optim_kernels.h"

namespace effnet::cpu {
namespace {

using optim_math::UpdateOperands;

// f(operands of tensor t, first, last) for the part [first, last) of tensor t that falls in
// [lo, hi) of the concatenation; begin[t] is tensor t's first element in it.
template <class T, class F>
inline EFFNET_INLINE void for_each_segment(const std::vector<UpdateOperands<T>>& ops, const std::vector<int64_t>& begin,
                                    int64_t lo, int64_t hi, F&& f) {
  size_t t = size_t(std::upper_bound(begin.begin(), begin.end(), lo) - begin.begin()) - 1;
  for (; t < ops.size() && begin[t] < hi; ++t) {
    const int64_t first = std::max(lo, begin[t]) - begin[t];
    const int64_t last = std::min(hi, begin[t] + ops[t].numel) - begin[t];
    f(ops[t], first, last);
  }
}

// The group's operands in T and the running start of each tensor; returns the total length.
template <class T>
int64_t gather(const TensorList& params, const TensorList& grads, const TensorList& s0, const TensorList& s1,
               std::vector<UpdateOperands<T>>& ops, std::vector<int64_t>& begin) {
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    ops.push_back(optim_math::operands<T>(params, grads, s0, s1, i));
    begin.push_back(total);
    total += ops.back().numel;
  }
  return total;
}

constexpr int64_t kGrain = 32768;  // elements below which one thread does the whole group

}  // namespace

void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
                const SgdConfig& config) {
  optim_math::dispatch_update("SGD", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    std::vector<UpdateOperands<T>> ops;
    std::vector<int64_t> begin;
    const int64_t total = gather<T>(params, grads, k.use_momentum ? momentum_buffers : TensorList{}, {}, ops, begin);
    parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for_each_segment(ops, begin, lo, hi, [&](const UpdateOperands<T>& o, int64_t a, int64_t b) EFFNET_INLINE {
        // Two loops, so that each is compiled with the momentum branch resolved.
        if (o.state0) {
          for (int64_t i = a; i < b; ++i) optim_math::sgd_element(k, o.param[i], o.grad[i], o.state0 + i);
        } else {
          for (int64_t i = a; i < b; ++i) optim_math::sgd_element(k, o.param[i], o.grad[i], static_cast<T*>(nullptr));
        }
      });
    });
  });
}

void adam_update(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                 const TensorList& exp_avg_sqs, const AdamConfig& config) {
  optim_math::dispatch_update("Adam", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    std::vector<UpdateOperands<T>> ops;
    std::vector<int64_t> begin;
    const int64_t total = gather<T>(params, grads, exp_avgs, exp_avg_sqs, ops, begin);
    parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for_each_segment(ops, begin, lo, hi, [&](const UpdateOperands<T>& o, int64_t a, int64_t b) EFFNET_INLINE {
        for (int64_t i = a; i < b; ++i) optim_math::adam_element(k, o.param[i], o.grad[i], o.state0[i], o.state1[i]);
      });
    });
  });
}

void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                    const TensorList& momentum_buffers, const RmspropConfig& config) {
  optim_math::dispatch_update("RMSprop", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    std::vector<UpdateOperands<T>> ops;
    std::vector<int64_t> begin;
    const int64_t total =
        gather<T>(params, grads, square_avgs, k.use_momentum ? momentum_buffers : TensorList{}, ops, begin);
    parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for_each_segment(ops, begin, lo, hi, [&](const UpdateOperands<T>& o, int64_t a, int64_t b) EFFNET_INLINE {
        if (o.state1) {
          for (int64_t i = a; i < b; ++i) optim_math::rmsprop_element(k, o.param[i], o.grad[i], o.state0[i], o.state1 + i);
        } else {
          for (int64_t i = a; i < b; ++i)
            optim_math::rmsprop_element(k, o.param[i], o.grad[i], o.state0[i], static_cast<T*>(nullptr));
        }
      });
    });
  });
}

// The averages take the params' place and the sources the grads': one read of each source.
void ema_update(const TensorList& averages, const TensorList& sources, const EmaConfig& config) {
  optim_math::dispatch_update("weight average", averages, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    std::vector<UpdateOperands<T>> ops;
    std::vector<int64_t> begin;
    const int64_t total = gather<T>(averages, sources, {}, {}, ops, begin);
    parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for_each_segment(ops, begin, lo, hi, [&](const UpdateOperands<T>& o, int64_t a, int64_t b) EFFNET_INLINE {
        for (int64_t i = a; i < b; ++i) optim_math::ema_element(k, o.param[i], o.grad[i]);
      });
    });
  });
}

}  // namespace effnet::cpu
