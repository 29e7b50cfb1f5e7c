// Backend entry points of max/argmax (reduce_max_cpu.cpp, reduce_max_cuda.cu). Tensors are
// contiguous and viewed as (outer, D, inner); values and indices are (outer, inner).
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

struct MaxDims {
  int64_t outer = 1, D = 1, inner = 1;
};

namespace cpu {
void max_forward(const Tensor& x, Tensor& values, Tensor& indices, const MaxDims& s);
// dx[o, d, i] = g[o, i] where d == indices[o, i], else 0.
void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s);
}  // namespace cpu

namespace cuda_ops {
void max_forward(const Tensor& x, Tensor& values, Tensor& indices, const MaxDims& s);
void max_backward(const Tensor& g, const Tensor& indices, Tensor& dx, const MaxDims& s);
}  // namespace cuda_ops

}  // namespace effnet
