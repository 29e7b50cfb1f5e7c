// Pooling over the spatial dimensions of NCHW tensors. global_avg_pool2d averages each (n, c)
// plane to one value: the head of EfficientNet and the squeeze of squeeze-excitation.
#pragma once

#include "framework/core/tensor.h"

namespace effnet {

// (N, C, H, W) -> (N, C, 1, 1), the mean over H and W; H*W must be positive. Differentiable.
Tensor global_avg_pool2d(const Tensor& x);

}  // namespace effnet
