// Backend entry points of the pooling family (pooling_cpu.cpp, pooling_cuda.cu) and the averaging
// formulas both halves call. planes = N*C, hw = H*W; x and grad_input are (planes, hw)
// contiguous, out and grad_output (planes).
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// The mean of a plane from its sum (accumulated in double by both halves).
template <class T>
EFFNET_HD T avg_pool_mean(double sum, int64_t hw) {
  return T(sum / double(hw));
}

// The backward spreads g evenly: every element of the plane gets g · (1 / hw), with 1 / hw
// rounded to T once.
template <class T>
EFFNET_HD T avg_pool_inv_count(int64_t hw) {
  return T(1.0 / double(hw));
}
template <class T>
EFFNET_HD T avg_pool_grad(T g, T inv_count) {
  return g * inv_count;
}

#define EFFNET_POOLING_BACKEND(X)                                                       \
  X(void, global_avg_pool2d, (const Tensor& x, Tensor& out, int64_t planes, int64_t hw)) \
  X(void, global_avg_pool2d_backward, (const Tensor& g, Tensor& gx, int64_t planes, int64_t hw))
EFFNET_DECLARE_BACKENDS(EFFNET_POOLING_BACKEND)

}  // namespace effnet
