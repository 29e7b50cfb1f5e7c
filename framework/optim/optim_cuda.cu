// CUDA halves of the optimizer updates: a multi-tensor kernel per optimizer over the shared
// formulas of optim_kernels.h. One launch updates up to kMaxTensorsPerLaunch parameters, whose
// pointers travel in the kernel's parameter block (a table of about 2.6 KB, under the 4 KB that
// every architecture accepts): blockIdx.y picks the tensor, and the blocks along x stride over its
// elements. A B0's 213 parameters take 4 launches instead of 213; nothing is copied to the device
// first, so the launches can be captured into a CUDA graph as they are.
#include <algorithm>

#include "framework/core/cuda_launch.cuh"
#include "framework/optim/optim_kernels.h"

namespace effnet::cuda_ops {
namespace {

constexpr int kMaxTensorsPerLaunch = 64;
constexpr unsigned kMaxBlocksPerTensor = 1024;  // beyond this the blocks stride

template <class T>
struct UpdateTable {
  T* param[kMaxTensorsPerLaunch];
  const T* grad[kMaxTensorsPerLaunch];
  T* state0[kMaxTensorsPerLaunch];  // null when the update keeps no such buffer
  T* state1[kMaxTensorsPerLaunch];
  int64_t numel[kMaxTensorsPerLaunch];
};

template <class T, class Step>
__global__ void multi_tensor_update(UpdateTable<T> table, Step step) {
  const int t = blockIdx.y;
  const int64_t n = table.numel[t];
  T* p = table.param[t];
  const T* g = table.grad[t];
  T *s0 = table.state0[t], *s1 = table.state1[t];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    step(p[i], g[i], s0 ? s0 + i : nullptr, s1 ? s1 + i : nullptr);
}

template <class T>
struct SgdStep {
  optim_math::SgdCoeffs<T> k;
  __device__ void operator()(T& p, T g, T* buf, T*) const { optim_math::sgd_element(k, p, g, buf); }
};

template <class T>
struct AdamStep {
  optim_math::AdamCoeffs<T> k;
  __device__ void operator()(T& p, T g, T* m, T* v) const { optim_math::adam_element(k, p, g, *m, *v); }
};

template <class T>
struct RmspropStep {
  optim_math::RmspropCoeffs<T> k;
  __device__ void operator()(T& p, T g, T* ms, T* mom) const { optim_math::rmsprop_element(k, p, g, *ms, mom); }
};

template <class T>
struct EmaStep {
  optim_math::EmaCoeffs<T> k;
  __device__ void operator()(T& avg, T x, T*, T*) const { optim_math::ema_element(k, avg, x); }
};

// Launches `step` over the group, kMaxTensorsPerLaunch tensors at a time.
template <class T, class Step>
void launch_update(const TensorList& params, const TensorList& grads, const TensorList& s0, const TensorList& s1,
                   const Step& step) {
  for (size_t first = 0; first < params.size(); first += kMaxTensorsPerLaunch) {
    const size_t count = std::min(params.size() - first, size_t(kMaxTensorsPerLaunch));
    UpdateTable<T> table{};
    int64_t longest = 0;
    for (size_t j = 0; j < count; ++j) {
      auto o = optim_math::operands<T>(params, grads, s0, s1, first + j);
      table.param[j] = o.param;
      table.grad[j] = o.grad;
      table.state0[j] = o.state0;
      table.state1[j] = o.state1;
      table.numel[j] = o.numel;
      longest = std::max(longest, o.numel);
    }
    if (longest == 0) continue;
    const unsigned blocks = std::min(cuda::grid_for(longest, cuda::kThreads), kMaxBlocksPerTensor);
    cuda::launch(multi_tensor_update<T, Step>, dim3(blocks, unsigned(count)), dim3(cuda::kThreads), table, step);
  }
}

}  // namespace

void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
                const SgdConfig& config) {
  optim_math::dispatch_update("SGD", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    launch_update<T>(params, grads, k.use_momentum ? momentum_buffers : TensorList{}, {}, SgdStep<T>{k});
  });
}

void adam_update(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                 const TensorList& exp_avg_sqs, const AdamConfig& config) {
  optim_math::dispatch_update("Adam", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    launch_update<T>(params, grads, exp_avgs, exp_avg_sqs, AdamStep<T>{k});
  });
}

void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                    const TensorList& momentum_buffers, const RmspropConfig& config) {
  optim_math::dispatch_update("RMSprop", params, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    launch_update<T>(params, grads, square_avgs, k.use_momentum ? momentum_buffers : TensorList{},
                     RmspropStep<T>{k});
  });
}

// The averages take the params' place and the sources the grads'.
void ema_update(const TensorList& averages, const TensorList& sources, const EmaConfig& config) {
  optim_math::dispatch_update("weight average", averages, config, [&](auto tag, const auto& k) {
    using T = decltype(tag);
    launch_update<T>(averages, sources, {}, {}, EmaStep<T>{k});
  });
}

}  // namespace effnet::cuda_ops
