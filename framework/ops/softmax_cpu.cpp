// CPU kernels of softmax/log_softmax: one (outer, inner) row at a time, strided by `inner`, with
// the shared row functions of softmax_kernels.h (in double).
#include "framework/ops/softmax_kernels.h"

namespace effnet::cpu {
namespace {

template <class T>
void forward_typed(const T* x, T* y, const SoftmaxDims& s, bool log) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = (r / inner) * D * inner + r % inner;
    if (log) softmax_strided_row<true>(x + base, y + base, D, inner);
    else softmax_strided_row<false>(x + base, y + base, D, inner);
  }
}

template <class T>
void backward_typed(const T* y, const T* g, T* dx, const SoftmaxDims& s, bool log) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = (r / inner) * D * inner + r % inner;
    if (log) softmax_backward_strided_row<true>(y + base, g + base, dx + base, D, inner);
    else softmax_backward_strided_row<false>(y + base, g + base, dx + base, D, inner);
  }
}

}  // namespace

void softmax_forward(const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log) {
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using scalar_t = decltype(tag);
    forward_typed<scalar_t>(x.data<scalar_t>(), y.data<scalar_t>(), s, log);
  });
}

void softmax_backward(const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log) {
  dispatch_float(y.dtype(), log ? "log_softmax backward" : "softmax backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    backward_typed<scalar_t>(y.data<scalar_t>(), g.data<scalar_t>(), dx.data<scalar_t>(), s, log);
  });
}

}  // namespace effnet::cpu
