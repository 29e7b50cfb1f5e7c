// Squeeze-and-excitation as one op: y = x · gate, gate = sigmoid(W2·act(W1·mean_hw(x) + b1) + b2)
// per image and channel. x: (N, C, H, W); w_reduce: (S, C, 1, 1) and b_reduce: (S) — the 1x1
// "reduce" convolution; w_expand: (C, S, 1, 1) and b_expand: (C) — the "expand" one; act: the
// activation between them (swish in EfficientNet). It equals
//   mul(x, sigmoid(conv2d(act(conv2d(global_avg_pool2d(x), w_reduce, b_reduce)), w_expand, b_expand)))
// in one op each way instead of six forward and about thirteen backward (the branch's gradient
// meets x's inside the op): the squeeze side is a few N×C and N×S matrices, so what a training
// step pays for it is dispatch and launches, not arithmetic. Saves x, the weights, and the pooled
// means, the pre-activation and the gate (small); differentiable in x and all four parameters.
// CPU: float32 and float64; CUDA: float32 (cuBLAS for the four small products).
#pragma once

#include "framework/core/tensor.h"
#include "framework/ops/unary.h"

namespace effnet {

Tensor squeeze_excitation(const Tensor& x, const Tensor& w_reduce, const Tensor& b_reduce, const Tensor& w_expand,
                          const Tensor& b_expand, FusedActivation act);

}  // namespace effnet
