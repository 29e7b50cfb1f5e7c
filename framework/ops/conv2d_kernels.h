// Backend entry points of conv2d (conv2d_cpu.cpp, conv2d_cuda.cu). All tensors are contiguous
// NCHW and already validated by conv2d.cpp; outputs are allocated by the caller and fully
// overwritten (gradients are not accumulated into).
#pragma once

#include <cstdint>
#include <tuple>

#include "framework/core/backend.h"
#include "framework/core/tensor.h"
#include "framework/ops/conv2d.h"

namespace effnet {

// Every size a convolution kernel needs, computed once in conv2d.cpp.
struct Conv2dGeometry {
  int64_t n = 0, c_in = 0, h = 0, w = 0;  // input
  int64_t c_out = 0, kh = 0, kw = 0;      // weight: (c_out, c_in / groups, kh, kw)
  int64_t ho = 0, wo = 0;                 // output spatial size
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, groups = 1;
  FusedActivation activation = FusedActivation::None;  // CPU forward only (conv2d.h)

  int64_t c_in_per_group() const { return c_in / groups; }
  int64_t c_out_per_group() const { return c_out / groups; }
  // One input channel per group: the direct depthwise kernels apply (c_out may be a multiple).
  bool depthwise() const { return groups == c_in && groups > 1; }
  auto key() const {
    return std::make_tuple(n, c_in, h, w, c_out, kh, kw, stride_h, stride_w, pad_h, pad_w, groups);
  }
};

#define EFFNET_CONV2D_BACKEND(X)                                                                                  \
  X(void, conv2d_forward, (const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Conv2dGeometry& g)) \
  X(void, conv2d_backward_input, (const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g))          \
  X(void, conv2d_backward_weight, (const Tensor& gy, const Tensor& x, Tensor& gw, const Conv2dGeometry& g))         \
  X(void, conv2d_backward_bias, (const Tensor& gy, Tensor& gb, const Conv2dGeometry& g))
EFFNET_DECLARE_BACKENDS(EFFNET_CONV2D_BACKEND)

namespace cpu {
// conv2d_scaled_input's CPU kernel (conv2d.h): pointwise geometry, scale (N, c_in) contiguous.
void conv2d_forward_scaled_input(const Tensor& x, const Tensor& scale, const Tensor& w, const Tensor& bias, Tensor& y,
                                 const Conv2dGeometry& g);
}  // namespace cpu

}  // namespace effnet
