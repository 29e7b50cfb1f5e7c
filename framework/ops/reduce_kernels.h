// Backend entry points of sum/mean: one pass reduces the middle of an (outer, reduce, inner)
// view of a contiguous tensor into (outer, inner), scaling the result.
#pragma once

#include "framework/core/tensor.h"

namespace effnet {
namespace cpu {
void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale);
}
namespace cuda_ops {
void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale);
}
}  // namespace effnet
