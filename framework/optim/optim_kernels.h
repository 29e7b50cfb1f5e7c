// Backend entry points of the optimizers (optim_cpu.cpp, optim_cuda.cu): one fused multi-tensor
// update for a whole group of parameters, reading each gradient once and writing each parameter
// and its state buffers once. The per-element formulas live here, shared by both halves, so the CPU loop and the CUDA
// kernel cannot drift apart; docs/optimizers.md states them.
#pragma once

#include <cmath>
#include <vector>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// Hyper-parameters of one update, in double on the host; the backends cast them to the
// parameter's type once per launch (the coefficients below). Each optimizer keeps one of these
// with its hyper-parameters (the first fields) and fills in the fields set per update.
struct SgdConfig {
  double momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  // Per update:
  double lr = 0;
  bool first_step = false;  // the momentum buffer is uninitialised: it takes the gradient as is
};

struct AdamConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  // Per update:
  double lr = 0;
  int64_t step = 1;  // this parameter's update count, including this one
};

struct RmspropConfig {
  double rho = 0.9, momentum = 0.9, eps = 1e-3, weight_decay = 0;
  // Per update:
  double lr = 0;
};

// A weight average's update (ema.h): the weight its sources get this time, 1 - decay_t.
struct EmaConfig {
  double weight = 0;
};

namespace optim_math {

template <class T>
struct SgdCoeffs {
  T lr, momentum, one_minus_dampening, weight_decay;
  bool use_momentum, nesterov, first_step;
};

template <class T>
SgdCoeffs<T> coeffs(const SgdConfig& c) {
  return {T(c.lr), T(c.momentum), T(1.0 - c.dampening), T(c.weight_decay), c.momentum != 0.0, c.nesterov, c.first_step};
}

// One element of SGD (PyTorch): d = g + wd·p; buf = d on the first step, else
// buf = momentum·buf + (1 - dampening)·d; d = nesterov ? d + momentum·buf : buf; p -= lr·d.
template <class T>
EFFNET_HD void sgd_element(const SgdCoeffs<T>& k, T& p, T g, T* buf) {
  T d = g;
  if (k.weight_decay != T(0)) d += k.weight_decay * p;
  if (k.use_momentum) {
    T b = k.first_step ? d : k.momentum * *buf + k.one_minus_dampening * d;
    *buf = b;
    d = k.nesterov ? d + k.momentum * b : b;
  }
  p -= k.lr * d;
}

template <class T>
struct AdamCoeffs {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  T l2;            // Adam: added to the gradient as l2·p
  T decay_factor;  // AdamW: p *= 1 - lr·wd before the step (1 for Adam)
  T step_size;     // lr / (1 - beta1^t)
  T bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

template <class T>
AdamCoeffs<T> coeffs(const AdamConfig& c) {
  double bias_correction1 = 1.0 - std::pow(c.beta1, double(c.step));
  double bias_correction2 = 1.0 - std::pow(c.beta2, double(c.step));
  return {T(c.beta1),
          T(1.0 - c.beta1),
          T(c.beta2),
          T(1.0 - c.beta2),
          T(c.eps),
          T(c.decoupled_weight_decay ? 0.0 : c.weight_decay),
          T(c.decoupled_weight_decay ? 1.0 - c.lr * c.weight_decay : 1.0),
          T(c.lr / bias_correction1),
          T(std::sqrt(bias_correction2))};
}

// One element of Adam/AdamW (PyTorch, amsgrad off).
template <class T>
EFFNET_HD void adam_element(const AdamCoeffs<T>& k, T& p, T g, T& m, T& v) {
  if (k.decay_factor != T(1)) p *= k.decay_factor;
  if (k.l2 != T(0)) g += k.l2 * p;
  m = k.beta1 * m + k.one_minus_beta1 * g;
  v = k.beta2 * v + k.one_minus_beta2 * g * g;
  T denom = std::sqrt(v) / k.bias_correction2_sqrt + k.eps;
  p -= k.step_size * m / denom;
}

template <class T>
struct RmspropCoeffs {
  T lr, rho, one_minus_rho, momentum, eps, weight_decay;
  bool use_momentum;
};

template <class T>
RmspropCoeffs<T> coeffs(const RmspropConfig& c) {
  return {T(c.lr), T(c.rho), T(1.0 - c.rho), T(c.momentum), T(c.eps), T(c.weight_decay), c.momentum != 0.0};
}

// One element of TF-style RMSprop: eps inside the square root, lr inside the momentum.
template <class T>
EFFNET_HD void rmsprop_element(const RmspropCoeffs<T>& k, T& p, T g, T& ms, T* mom) {
  if (k.weight_decay != T(0)) g += k.weight_decay * p;
  ms = k.rho * ms + k.one_minus_rho * g * g;
  T delta = k.lr * g / std::sqrt(ms + k.eps);
  if (k.use_momentum) {
    delta += k.momentum * *mom;
    *mom = delta;
  }
  p -= delta;
}

template <class T>
struct EmaCoeffs {
  T weight;
};

template <class T>
EmaCoeffs<T> coeffs(const EmaConfig& c) {
  return {T(c.weight)};
}

// One element of the exponential moving average, in PyTorch's lerp form (timm's ModelEmaV2 uses
// avg.lerp_(x, 1 - decay)): avg += w·(x - avg), which is decay·avg + (1 - decay)·x.
template <class T>
EFFNET_HD void ema_element(const EmaCoeffs<T>& k, T& avg, T x) {
  avg += k.weight * (x - avg);
}

// The dtype dispatch both halves start each update with: f(tag, k), tag a value of the
// parameters' float type T and k the config's coefficients in T.
template <class Config, class F>
void dispatch_update(const char* name, const std::vector<Tensor>& params, const Config& config, F&& f) {
  dispatch_float(params.at(0).dtype(), name, [&](auto tag) { f(tag, coeffs<decltype(tag)>(config)); });
}

// Raw pointers of the i-th tensor of each list (null for an empty state list), in T.
template <class T>
struct UpdateOperands {
  T* param;
  const T* grad;
  T* state0;
  T* state1;
  int64_t numel;
};
template <class T>
UpdateOperands<T> operands(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<Tensor>& state0, const std::vector<Tensor>& state1, size_t i) {
  return {params[i].data<T>(), grads[i].data<T>(), state0.empty() ? nullptr : state0[i].data<T>(),
          state1.empty() ? nullptr : state1[i].data<T>(), params[i].numel()};
}

}  // namespace optim_math

// The tensors of one multi-tensor update: index i of each list belongs to one parameter. All share
// one dtype and device (and, for the update's config, one step count), so one backend call, and on
// CUDA one launch per kMaxTensorsPerLaunch tensors, updates them all. A state list is empty when
// the update keeps no such buffer (SGD or RMSprop with momentum 0).
using TensorList = std::vector<Tensor>;
#define EFFNET_OPTIM_BACKEND(X)                                                                                   \
  X(void, sgd_update,                                                                                            \
    (const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,                      \
     const SgdConfig& config))                                                                                   \
  X(void, adam_update,                                                                                           \
    (const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,                              \
     const TensorList& exp_avg_sqs, const AdamConfig& config))                                                   \
  X(void, rmsprop_update,                                                                                        \
    (const TensorList& params, const TensorList& grads, const TensorList& square_avgs,                           \
     const TensorList& momentum_buffers, const RmspropConfig& config))                                          \
  X(void, ema_update, (const TensorList& averages, const TensorList& sources, const EmaConfig& config))
EFFNET_DECLARE_BACKENDS(EFFNET_OPTIM_BACKEND)

}  // namespace effnet
