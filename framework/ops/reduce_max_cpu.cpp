// CPU kernels of max/argmax: a strided scan per (outer, inner) position in the order of
// row_math.h's arg_better, which the CUDA kernels use too: first index on ties, NaN the largest
// value (the first NaN wins, so the scan stops there).
#include <cmath>

#include "framework/ops/reduce_max_kernels.h"
#include "framework/ops/row_math.h"

namespace effnet::cpu {
namespace {

template <class T>
void forward_typed(const T* x, T* values, int64_t* indices, const MaxDims& s) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* px = x + (r / inner) * D * inner + r % inner;
    T best = px[0];
    int64_t best_i = 0;
    for (int64_t d = 1; d < D && !std::isnan(best); ++d) {
      const T v = px[d * inner];
      if (arg_better(v, d, best, best_i)) {
        best = v;
        best_i = d;
      }
    }
    values[r] = best;
    indices[r] = best_i;
  }
}

template <class T>
void backward_typed(const T* g, const int64_t* indices, T* dx, const MaxDims& s) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    T* pdx = dx + (r / inner) * D * inner + r % inner;
    for (int64_t d = 0; d < D; ++d) pdx[d * inner] = max_backward_element(d, indices[r], g[r]);
  }
}

}  // namespace

void max_forward(const Tensor& x, Tensor& values, Tensor& indices, const MaxDims& s) {
  dispatch_float(x.dtype(), "max", [&](auto tag) {
    using scalar_t = decltype(tag);
    forward_typed<scalar_t>(x.data<scalar_t>(), values.data<scalar_t>(), indices.data<int64_t>(), s);
  });
}

void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s) {
  dispatch_float(g.dtype(), "max backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    backward_typed<scalar_t>(g.data<scalar_t>(), indices.data<int64_t>(), dx.data<scalar_t>(), s);
  });
}

}  // namespace effnet::cpu
