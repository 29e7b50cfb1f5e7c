// Batch normalisation over NCHW tensors (BatchNorm2d): one mean and variance per channel, taken
// over N, H and W, then an affine transform with per-channel weight (gamma) and bias (beta).
//
// Training: the output is normalised with the batch statistics (biased variance), and the running
// statistics are updated in place exactly as in PyTorch:
//   running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//   running_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1)
// with n = N*H*W (the running variance uses the unbiased batch variance). The update is not
// recorded by autograd and bumps the buffers' versions.
// Eval: the output is normalised with the running statistics, which are left unchanged.
// Gradients flow to x, weight and bias (the latter two may be frozen: requires_grad false).
// CPU: float32 and float64. CUDA: float32, through cuDNN (CUDNN_BATCHNORM_SPATIAL).
#pragma once

#include "framework/core/tensor.h"
#include "framework/ops/unary.h"

namespace effnet {

// x: (N, C, H, W); weight, bias, running_mean, running_var: (C), all of x's dtype and device.
// momentum in [0, 1]; eps > 0. Training needs more than one value per channel (N*H*W > 1).
// act: an activation applied to the output, equal to apply_activation(batch_norm2d(...), act). In
// training it is fused: one op forward and one backward, and the normalised values before the
// activation are recomputed in backward instead of being kept (one activation-sized tensor less
// per layer). On CUDA the fused op is cuDNN's batch norm plus one element kernel each way. In eval
// mode it is the separate op.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps,
                    FusedActivation act = FusedActivation::None);

}  // namespace effnet
