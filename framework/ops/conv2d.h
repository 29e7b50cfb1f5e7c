// 2-D convolution (cross-correlation, as in every DL framework) over NCHW tensors, with groups
// (depthwise included: groups == in_channels), strides and symmetric zero padding; dilation 1.
// Differentiable in input, weight and bias. Asymmetric (TF 'SAME') padding is done by an
// explicit pad2d (pad.h) before a convolution with pad 0.
//   CPU: im2col + OpenBLAS GEMM per group, a direct loop for depthwise.
//   CUDA: cuDNN, one grouped call, algorithms chosen once per shape and cached.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"
#include "framework/ops/unary.h"

namespace effnet {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // zeros added on both sides
  int64_t groups = 1;
  // An activation applied to the output in the convolution's own output pass (after the bias), for
  // inference: the CPU kernels apply it while each chunk of output is still in cache, which saves
  // a whole pass over the activations; on CUDA it is the separate unary op. Not differentiable.
  FusedActivation activation = FusedActivation::None;
};

// x: (N, Cin, H, W); w: (Cout, Cin/groups, kh, kw); bias: (Cout) or an undefined Tensor().
// Returns (N, Cout, Ho, Wo) with Ho = (H + 2*pad_h - kh) / stride_h + 1 (likewise Wo).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), const Conv2dParams& p = {});

// Inference: conv2d(x · scale, w, bias, p) for a pointwise convolution (1x1, stride 1, no padding,
// groups 1), scale (N, Cin, 1, 1) per image and input channel: squeeze-excitation's gate followed
// by MBConv's projection, without the scaled copy of x (the CPU scales the column matrix it copies
// anyway, or the weight per image where it uses x in place; CUDA multiplies first). Refuses inputs
// that need a gradient.
Tensor conv2d_scaled_input(const Tensor& x, const Tensor& scale, const Tensor& w, const Tensor& bias = Tensor(),
                           const Conv2dParams& p = {});

// Output size of one spatial dimension: (in + 2*pad - k) / stride + 1.
inline int64_t conv2d_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

}  // namespace effnet
