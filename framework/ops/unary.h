// Element-wise unary functions and activations: exp, log, sqrt, pow by a scalar, clamp, sigmoid,
// relu, relu6 and swish (= silu). All take a float32/float64 tensor on any device, return a new
// tensor of the same shape, and are differentiable through one dedicated backward kernel each.
// Boundary conventions follow PyTorch: relu'(0) = 0, relu6'(0) = relu6'(6) = 0, and clamp's
// gradient is 1 on the closed interval [lo, hi]. NaN inputs propagate through relu, relu6 and clamp.
// Call these qualified (effnet::exp) or on Tensors: inside namespace effnet they hide ::exp(double)
// etc., so scalar code there must say std::exp.
#pragma once

#include "framework/core/tensor.h"

namespace effnet {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);   // NaN for x < 0, -inf at 0, as std::log
Tensor sqrt(const Tensor& x);  // gradient 1/(2·sqrt(x)): inf at 0
// x^p element-wise; the gradient p·x^(p-1) is taken as 0 when p == 0.
Tensor pow(const Tensor& x, double p);
// min(max(x, lo), hi); lo <= hi required.
Tensor clamp(const Tensor& x, double lo, double hi);

// 1 / (1 + e^-x), evaluated without overflow for any finite x.
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);  // min(max(x, 0), 6)
// x · sigmoid(x). Backward recomputes sigmoid from the saved input instead of keeping it.
Tensor silu(const Tensor& x);
inline Tensor swish(const Tensor& x) { return silu(x); }

// An activation computed inside the op that produces its input (conv2d's output pass, batch
// norm's), so that the activation never makes a pass of its own over memory: none, or one of the
// activations above. apply_activation is the same as its own (differentiable) op: what a fused
// activation must equal, and the fallback where a backend does not fuse it.
enum class FusedActivation { None, Silu, Relu6, Relu, Sigmoid };
Tensor apply_activation(const Tensor& y, FusedActivation a);

}  // namespace effnet
