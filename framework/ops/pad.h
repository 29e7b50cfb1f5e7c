// Explicit zero padding of the last two (spatial) dimensions, asymmetric allowed, and the
// TensorFlow 'SAME' padding rule. Weights from TF-lineage checkpoints (EfficientNet) were trained
// with SAME padding, which for even inputs and stride 2 puts the extra row/column at the bottom/
// right; conv2d's symmetric padding cannot express that, so such layers pad2d first.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

// x: (..., H, W) with at least two dimensions; returns (..., top + H + bottom, left + W + right)
// with zeros in the border. Differentiable: the backward crops the gradient.
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right);

struct SamePadding {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  bool symmetric() const { return top == bottom && left == right; }
  bool none() const { return top == 0 && bottom == 0 && left == 0 && right == 0; }
};

// TF 'SAME' for a k x k kernel at `stride` on an (in_h, in_w) input (dilation 1): per dimension,
// out = ceil(in / stride), pad = max((out - 1) * stride + k - in, 0), before = pad / 2, after = the rest.
SamePadding same_padding(int64_t in_h, int64_t in_w, int64_t k, int64_t stride);

inline Tensor pad2d(const Tensor& x, const SamePadding& p) { return pad2d(x, p.top, p.bottom, p.left, p.right); }

}  // namespace effnet
