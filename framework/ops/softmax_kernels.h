// Backend entry points of softmax/log_softmax (softmax_cpu.cpp, softmax_cuda.cu) and the
// per-element formulas both halves call, in double on both (the CPU's reference precision; the
// kernels are memory-bound). Tensors are contiguous and viewed as (outer, D, inner), the softmax
// running over D; inner == 1 is the common last-dimension case.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"
#include "framework/ops/row_math.h"

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

// One row of the (outer, D, inner) view, its D elements `inner` apart: three passes (max, sum of
// exponentials, write), all in double. The CPU runs every row this way, the CUDA kernel the rows
// of inner > 1 (one thread each); the last-dimension rows on the GPU go to warp and block kernels
// built on the same elements.
template <bool LOG, class T>
EFFNET_HD void softmax_strided_row(const T* px, T* py, int64_t D, int64_t inner) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t d = 0; d < D; ++d) m = max_nan(double(px[d * inner]), m);
  double sum = 0.0;
  for (int64_t d = 0; d < D; ++d) sum += std::exp(double(px[d * inner]) - m);
  if (LOG) {
    const double lse = log_sum_exp(m, sum);
    for (int64_t d = 0; d < D; ++d) py[d * inner] = T(log_softmax_element(double(px[d * inner]), lse));
  } else {
    const double inv = 1.0 / sum;
    for (int64_t d = 0; d < D; ++d) py[d * inner] = T(softmax_element(double(px[d * inner]), m, inv));
  }
}

template <bool LOG, class T>
EFFNET_HD void softmax_backward_strided_row(const T* py, const T* pg, T* pdx, int64_t D, int64_t inner) {
  double dot = 0.0;
  for (int64_t d = 0; d < D; ++d) dot += softmax_backward_term<LOG>(double(py[d * inner]), double(pg[d * inner]));
  for (int64_t d = 0; d < D; ++d) {
    const int64_t k = d * inner;
    pdx[k] = T(softmax_backward_element<LOG>(double(py[k]), double(pg[k]), dot));
  }
}

// softmax_backward: dx from the saved output y and the incoming gradient g.
#define EFFNET_SOFTMAX_BACKEND(X)                                                                 \
  X(void, softmax_forward, (const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log))          \
  X(void, softmax_backward, (const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log))
EFFNET_DECLARE_BACKENDS(EFFNET_SOFTMAX_BACKEND)

}  // namespace effnet
