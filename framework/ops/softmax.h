// Softmax and log-softmax along one dimension, numerically stable (the row maximum is subtracted
// before exponentiating), differentiable. Backward uses the saved output only:
//   softmax:     dx = y * (g - sum(g * y, dim))
//   log_softmax: dx = g - exp(y) * sum(g, dim)
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

// dim may be negative (counts from the end). x: float32 or float64, at least one dimension.
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace effnet
