// Backend entry points of batch_norm2d (batch_norm_cpu.cpp, batch_norm_cuda.cu) and the
// per-element formulas both halves call, in double like the CPU's reference passes. Tensors are
// contiguous NCHW with (C)-shaped per-channel statistics, validated by batch_norm.cpp.
// Gradient outputs passed undefined are not wanted; a backend may still compute them into scratch.
#pragma once

#include <cmath>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"
#include "framework/ops/unary_kernels.h"

namespace effnet {

// 1 / sqrt(var + eps): the inverse std that training mode saves and eval-mode backward keeps.
EFFNET_HD double bn_invstd(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

// The normalisation y = (x - mean)·scale + shift, with scale = weight·invstd and shift = bias per
// channel. (cuDNN normalises on the GPU; the CPU's train and eval passes share this.)
template <class T>
EFFNET_HD T bn_normalise(T x, T mean, T scale, T shift) {
  return (x - mean) * scale + shift;
}

// g·(x - mean), whose sum over a channel times invstd is the weight gradient.
EFFNET_HD double bn_centered_product(double g, double x, double mean) { return g * (x - mean); }

// Eval-mode input gradient: the statistics are constants, so dx = g·k with k = weight·invstd.
EFFNET_HD double bn_eval_grad_scale(double weight, double invstd) { return weight * invstd; }
template <class T>
EFFNET_HD T bn_eval_input_grad(T g, double k) {
  return T(k * double(g));
}

// batch_norm_train_forward: batch statistics -> y = act(z) with z the normalised x, save_mean,
// save_invstd = bn_invstd(biased var); running stats updated. batch_norm_invstd: bn_invstd per
// channel (what eval-mode backward keeps). batch_norm_train_backward: the full training-mode
// backward with the saved batch statistics; with an activation, g is the gradient of act(z) and
// z is recomputed from x, the statistics, weight and bias (so z is never stored), and gx must be
// defined (it holds g·act'(z) between the two passes).
// batch_norm_eval_backward: gx = bn_eval_input_grad, and the weight and bias gradients.
#define EFFNET_BATCH_NORM_BACKEND(X)                                                                              \
  X(void, batch_norm_train_forward,                                                                              \
    (const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean, Tensor& running_var,       \
     double momentum, double eps, FusedActivation act, Tensor& y, Tensor& save_mean, Tensor& save_invstd))       \
  X(void, batch_norm_eval_forward,                                                                               \
    (const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,                       \
     const Tensor& running_var, double eps, Tensor& y))                                                          \
  X(void, batch_norm_invstd, (const Tensor& var, double eps, Tensor& invstd))                                   \
  X(void, batch_norm_train_backward,                                                                             \
    (const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& bias, const Tensor& save_mean,        \
     const Tensor& save_invstd, double eps, FusedActivation act, Tensor& gx, Tensor& gw, Tensor& gb))            \
  X(void, batch_norm_eval_backward,                                                                              \
    (const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& mean, const Tensor& invstd,           \
     Tensor& gx, Tensor& gw, Tensor& gb))
EFFNET_DECLARE_BACKENDS(EFFNET_BATCH_NORM_BACKEND)

}  // namespace effnet
