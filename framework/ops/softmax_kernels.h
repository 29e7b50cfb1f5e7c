// Backend entry points of softmax/log_softmax (softmax_cpu.cpp, softmax_cuda.cu) and the
// per-element formulas both halves call, in double on both (the CPU's reference precision; the
// kernels are memory-bound). Tensors are contiguous and viewed as (outer, D, inner), the softmax
// running over D; inner == 1 is the common last-dimension case.
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

struct SoftmaxDims {
  int64_t outer = 1, D = 1, inner = 1;
};

// One element of the forward pass, from the row's maximum m and inv_sum = 1 / sum_d e^(x_d - m)
// (softmax), or from its log-sum-exp (log_softmax).
EFFNET_HD double softmax_element(double x, double m, double inv_sum) { return std::exp(x - m) * inv_sum; }
EFFNET_HD double log_softmax_element(double x, double lse) { return x - lse; }

// The backward pass from the saved output y: softmax dx = y·(g - dot) with dot = sum(g·y),
// log_softmax dx = g - e^y·dot with dot = sum(g); dot sums softmax_backward_term over the row.
template <bool LOG>
EFFNET_HD double softmax_backward_term(double y, double g) {
  return LOG ? g : g * y;
}
template <bool LOG>
EFFNET_HD double softmax_backward_element(double y, double g, double dot) {
  return LOG ? g - std::exp(y) * dot : y * (g - dot);
}

// softmax_backward: dx from the saved output y and the incoming gradient g.
#define EFFNET_SOFTMAX_BACKEND(X)                                                                 \
  X(void, softmax_forward, (const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log))          \
  X(void, softmax_backward, (const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log))
EFFNET_DECLARE_BACKENDS(EFFNET_SOFTMAX_BACKEND)

}  // namespace effnet
