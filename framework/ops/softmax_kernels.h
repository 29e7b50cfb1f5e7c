// Backend entry points of softmax/log_softmax (softmax_cpu.cpp, softmax_cuda.cu). Tensors are
// contiguous and viewed as (outer, D, inner), the softmax running over D; inner == 1 is the
// common last-dimension case.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

struct SoftmaxDims {
  int64_t outer = 1, D = 1, inner = 1;
};

namespace cpu {
void softmax_forward(const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log);
// dx from the saved output y and the incoming gradient g.
void softmax_backward(const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log);
}  // namespace cpu

namespace cuda_ops {
void softmax_forward(const Tensor& x, Tensor& y, const SoftmaxDims& s, bool log);
void softmax_backward(const Tensor& y, const Tensor& g, Tensor& dx, const SoftmaxDims& s, bool log);
}  // namespace cuda_ops

}  // namespace effnet
