// The all-reduce as a differentiable op: y = sum over ranks of x, on every rank. Its backward is
// the same sum of the incoming gradients, since every rank's loss depends on y: d(sum_r L_r)/dx_q
// = sum_r dL_r/dy. What synchronised batch norm builds on (ops/sync_batch_norm.h).
#pragma once

#include "framework/core/tensor.h"

namespace effnet::dist {

// x: float32 or float64, contiguous. Returns a new tensor; records a node when x requires grad.
Tensor all_reduce_sum(const Tensor& x);

}  // namespace effnet::dist
