// Backend entry points of the pooling family (pooling_cpu.cpp, pooling_cuda.cu). planes = N*C,
// hw = H*W; x and grad_input are (planes, hw) contiguous, out and grad_output (planes).
#pragma once

#include "framework/core/tensor.h"

namespace effnet {
namespace cpu {
void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw);
void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw);
}  // namespace cpu
namespace cuda_ops {
void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw);
void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw);
}  // namespace cuda_ops
}  // namespace effnet
