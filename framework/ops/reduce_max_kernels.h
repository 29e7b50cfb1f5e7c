// Backend entry points of max/argmax (reduce_max_cpu.cpp, reduce_max_cuda.cu) and the backward's
// element formula both halves call. Tensors are contiguous and viewed as (outer, D, inner);
// values and indices are (outer, inner).
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

struct MaxDims {
  int64_t outer = 1, D = 1, inner = 1;
};

// The gradient of element d of a reduced column: g where d is the column's argmax, else 0.
template <class T>
EFFNET_HD T max_backward_element(int64_t d, int64_t argmax, T g) {
  return d == argmax ? g : T(0);
}

// max_forward: values and indices in the order of row_math.h's arg_better (first index on ties,
// NaN wins); max_backward: dx[o, d, i] = max_backward_element(d, indices[o, i], g[o, i]).
#define EFFNET_REDUCE_MAX_BACKEND(X)                                                                 \
  X(void, max_forward, (const Tensor& x, Tensor& values, Tensor& indices, const MaxDims& s)) \
  X(void, max_backward, (const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s))
EFFNET_DECLARE_BACKENDS(EFFNET_REDUCE_MAX_BACKEND)

}  // namespace effnet
