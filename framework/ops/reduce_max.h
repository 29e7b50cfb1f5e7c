// Maximum along one dimension with its position (PyTorch's max(x, dim) and argmax). Ties go to
// the first index; NaN counts as the largest value, so it propagates. `values` is differentiable:
// its gradient flows to the argmax position only (the others get 0).
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

struct MaxResult {
  Tensor values;   // x's dtype
  Tensor indices;  // int64, positions along dim
};

// dim may be negative; keepdim keeps the reduced dimension with size 1. x: float32 or float64
// with a non-empty dimension `dim`.
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);
// Indices only (int64); not differentiable.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace effnet
