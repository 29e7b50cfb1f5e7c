// Backend entry points of batch_norm2d (batch_norm_cpu.cpp, batch_norm_cuda.cu). Tensors are
// contiguous NCHW with (C)-shaped per-channel statistics, validated by batch_norm.cpp.
// Gradient outputs passed undefined are not wanted; a backend may still compute them into scratch.
#pragma once

#include "framework/core/tensor.h"

namespace effnet {

namespace cpu {
// Batch statistics -> y, save_mean, save_invstd = 1/sqrt(biased var + eps); running stats updated.
void batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd);
void batch_norm_eval_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y);
// invstd = 1 / sqrt(var + eps), per channel (what eval-mode backward keeps).
void batch_norm_invstd(const Tensor& var, double eps, Tensor& invstd);
// Full training-mode backward with the saved batch statistics.
void batch_norm_train_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& save_mean,
                               const Tensor& save_invstd, double eps, Tensor& gx, Tensor& gw, Tensor& gb);
// Eval-mode backward: the statistics are constants, so gx = g * weight * invstd.
void batch_norm_eval_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& mean,
                              const Tensor& invstd, Tensor& gx, Tensor& gw, Tensor& gb);
}  // namespace cpu

namespace cuda_ops {
void batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd);
void batch_norm_eval_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y);
void batch_norm_invstd(const Tensor& var, double eps, Tensor& invstd);
void batch_norm_train_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& save_mean,
                               const Tensor& save_invstd, double eps, Tensor& gx, Tensor& gw, Tensor& gb);
void batch_norm_eval_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& mean,
                              const Tensor& invstd, Tensor& gx, Tensor& gw, Tensor& gb);
}  // namespace cuda_ops

}  // namespace effnet
