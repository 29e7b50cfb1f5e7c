// CPU kernels of softmax/log_softmax: one (outer, inner) row at a time, strided by `inner`, over
// the shared formulas of softmax_kernels.h and row_math.h, in double.
#include <cmath>
#include <limits>
#include <type_traits>

#include "framework/ops/row_math.h"
#include "framework/ops/softmax_kernels.h"

namespace effnet::cpu {
namespace {

template <class T>
void forward_typed(const T* x, T* y, const SoftmaxDims& s, bool log) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = (r / inner) * D * inner + r % inner;
    const T* px = x + base;
    T* py = y + base;
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t d = 0; d < D; ++d) m = max_nan(double(px[d * inner]), m);
    double sum = 0.0;
    for (int64_t d = 0; d < D; ++d) sum += std::exp(double(px[d * inner]) - m);
    if (log) {
      const double lse = log_sum_exp(m, sum);
      for (int64_t d = 0; d < D; ++d) py[d * inner] = T(log_softmax_element(double(px[d * inner]), lse));
    } else {
      const double inv = 1.0 / sum;
      for (int64_t d = 0; d < D; ++d) py[d * inner] = T(softmax_element(double(px[d * inner]), m, inv));
    }
  }
}

template <class T>
void backward_typed(const T* y, const T* g, T* dx, const SoftmaxDims& s, bool log) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = (r / inner) * D * inner + r % inner;
    const T *py = y + base, *pg = g + base;
    T* pdx = dx + base;
    double dot = 0.0;
    auto row = [&](auto log_tag) {
      constexpr bool LOG = decltype(log_tag)::value;
      for (int64_t d = 0; d < D; ++d) dot += softmax_backward_term<LOG>(double(py[d * inner]), double(pg[d * inner]));
      for (int64_t d = 0; d < D; ++d) {
        const int64_t k = d * inner;
        pdx[k] = T(softmax_backward_element<LOG>(double(py[k]), double(pg[k]), dot));
      }
    };
    if (log) row(std::true_type{});
    else row(std::false_type{});
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
