// Sum and mean over chosen dimensions (keepdim as in PyTorch), and sum_to, which sums a gradient
// back to the shape of a broadcast input. Max/argmax live in reduce_max.h.
#pragma once

#include <vector>

#include "framework/core/tensor.h"

namespace effnet {

// dims may be negative; an empty list means every dimension.
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Sums x over the dimensions along which `shape` was broadcast to x's shape; x if equal.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace effnet
