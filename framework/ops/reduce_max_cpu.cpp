// CPU kernels of max/argmax: row_math.h's argmax_scan per (outer, inner) position (first index on
// ties, NaN the largest value, the first NaN winning), which the CUDA kernels use too.
#include "framework/ops/reduce_max_kernels.h"
#include "framework/ops/row_math.h"

namespace effnet::cpu {
namespace {

template <class T>
void forward_typed(const T* x, T* values, int64_t* indices, const MaxDims& s) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const ArgMax<T> m = argmax_scan(x + (r / inner) * D * inner + r % inner, D, inner);
    values[r] = m.value;
    indices[r] = m.index;
  }
}

template <class T>
void backward_typed(const T* g, const int64_t* indices, T* dx, const MaxDims& s) {
  const int64_t rows = s.outer * s.inner, D = s.D, inner = s.inner;
#pragma omp parallel for if (rows * D > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    T* pdx = dx + (r / inner) * D * inner + r % inner;
    const int64_t argmax = indices[r];
    const T gr = g[r];
    for (int64_t d = 0; d < D; ++d) pdx[d * inner] = max_backward_element(d, argmax, gr);
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
