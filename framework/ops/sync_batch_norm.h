// Synchronised batch normalisation (PyTorch's SyncBatchNorm): batch_norm2d whose training-mode
// statistics are taken over the batches of all ranks of a data-parallel job, as if one process
// ran the whole global batch. Built from existing differentiable ops and one differentiable
// all-reduce the caller provides (dist/all_reduce_op.h; ops sit below the distributed layer):
//   M      = sum over ranks of N*H*W
//   mean   = allreduce(sum x over N,H,W) / M
//   var    = allreduce(sum (x - mean)^2 over N,H,W) / M        (biased, as batch_norm2d)
//   y      = (x - mean) * (var + eps)^-1/2 * weight + bias
// The two-pass variance costs one more all-reduce than sum and sum of squares would, and avoids
// their cancellation. Gradients flow through both all-reduces (derivatives.md, sync batch norm).
// Running statistics are updated as batch_norm2d does, with the global mean and the unbiased
// global variance var * M / (M - 1). Eval mode is batch_norm2d's, with no communication.
// With the identity as all-reduce it is batch_norm2d in training mode (tests/test_sync_batch_norm).
#pragma once

#include <functional>

#include "framework/core/tensor.h"

namespace effnet {

// The sum of t over the ranks, differentiable (returns a new tensor).
using AllReduceSum = std::function<Tensor(const Tensor&)>;

Tensor sync_batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum, double eps,
                         const AllReduceSum& all_reduce_sum);

}  // namespace effnet
