// Synchronised batch normalisation as a composite of differentiable ops (see sync_batch_norm.h).
#include "framework/ops/sync_batch_norm.h"

#include "framework/autograd/node.h"
#include "framework/core/creation.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/binary.h"
#include "framework/ops/reduce.h"
#include "framework/ops/unary.h"

namespace effnet {

Tensor sync_batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum, double eps,
                         const AllReduceSum& all_reduce_sum) {
  if (!training) return batch_norm2d(x, weight, bias, running_mean, running_var, false, momentum, eps);
  EFFNET_CHECK(x.dim() == 4, "sync_batch_norm2d: expected (N, C, H, W), got ", x.str());
  EFFNET_CHECK(all_reduce_sum, "sync_batch_norm2d: no all-reduce given");
  const int64_t C = x.size(1);
  // The global count: ranks may hold batches of different sizes.
  Tensor count = full({1}, double(x.size(0) * x.size(2) * x.size(3)), x.dtype(), x.device());
  const double M = all_reduce_sum(count).item();
  EFFNET_CHECK(M > 1, "sync_batch_norm2d: training needs more than one value per channel over all ranks, got ", M);
  const std::vector<int64_t> over = {0, 2, 3};
  Tensor mean = affine(all_reduce_sum(sum(x, over, true)), 1.0 / M, 0.0);  // (1, C, 1, 1)
  Tensor centred = sub(x, mean);
  Tensor var = affine(all_reduce_sum(sum(mul(centred, centred), over, true)), 1.0 / M, 0.0);
  Tensor inv_std = pow(affine(var, 1.0, eps), -0.5);
  Tensor y = add(mul(mul(centred, inv_std), weight.reshape({1, C, 1, 1})), bias.reshape({1, C, 1, 1}));
  {
    NoGradGuard no_grad;
    running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape({C}), momentum);
    running_var.mul_(1.0 - momentum).add_(var.detach().reshape({C}), momentum * M / (M - 1.0));
  }
  return y;
}

}  // namespace effnet
