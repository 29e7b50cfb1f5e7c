// Backend entry points of squeeze_excitation (squeeze_excitation_cpu.cpp, _cuda.cu) and the
// per-element formulas both halves call. Layout: x, y, gy, gx (N, C, H, W) contiguous, i.e.
// N·C planes of HW values; pooled, gate (N, C) and hidden (N, S) row-major; w_reduce is S×C and
// w_expand C×S row-major (the 1x1 convolutions' weights as stored). Both halves build the squeeze
// side from their own global_avg_pool2d and gemm backends and element passes over these formulas.
#pragma once

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"
#include "framework/ops/unary_kernels.h"

namespace effnet {

// The gate of one (image, channel) from the expand product t and its bias.
template <class T>
EFFNET_HD T se_gate(T t, T bias) {
  return unary_forward<T, UnaryOp::Sigmoid>(t + bias, T(0), T(0));
}

// The gradient of the gate's pre-sigmoid value from the gradient of the gate, sum_hw(gy·x).
template <class T>
EFFNET_HD T se_gate_input_grad(T dgate, T gate) {
  return unary_backward_element<T, UnaryOp::Sigmoid>(dgate, gate, T(0), T(0));
}

// dx = gy·gate (the scaling) + dpooled / HW (through the mean that the gate came from).
template <class T>
EFFNET_HD T se_input_grad(T gy, T gate, T dpooled, T inv_hw) {
  return gy * gate + dpooled * inv_hw;
}

// se_forward: y, and what backward keeps: pooled (N, C), hidden = W1·pooled + b1 before the
// activation (N, S), gate (N, C).
// se_backward: the gradients asked for (undefined ones are skipped; gx is always computed).
#define EFFNET_SE_BACKEND(X)                                                                                      \
  X(void, se_forward,                                                                                            \
    (const Tensor& x, const Tensor& w_reduce, const Tensor& b_reduce, const Tensor& w_expand,                    \
     const Tensor& b_expand, FusedActivation act, Tensor& y, Tensor& pooled, Tensor& hidden, Tensor& gate))      \
  X(void, se_backward,                                                                                           \
    (const Tensor& x, const Tensor& gy, const Tensor& w_reduce, const Tensor& w_expand, const Tensor& pooled,    \
     const Tensor& hidden, const Tensor& gate, FusedActivation act, Tensor& gx, Tensor& gw_reduce,               \
     Tensor& gb_reduce, Tensor& gw_expand, Tensor& gb_expand))
EFFNET_DECLARE_BACKENDS(EFFNET_SE_BACKEND)

}  // namespace effnet
