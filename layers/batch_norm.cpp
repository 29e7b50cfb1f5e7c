// BatchNorm2d layer (see batch_norm.h).
#include "layers/batch_norm.h"

#include "framework/ops/batch_norm.h"

namespace effnet::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, const BatchNormOptions& opts) : channels_(channels), opts_(opts) {
  weight = register_parameter("weight", ones({channels}));
  bias = register_parameter("bias", zeros({channels}));
  running_mean = register_buffer("running_mean", zeros({channels}));
  running_var = register_buffer("running_var", ones({channels}));
}

Tensor BatchNorm2d::forward(const Tensor& x) { return forward(x, FusedActivation::None); }

Tensor BatchNorm2d::forward(const Tensor& x, FusedActivation act) {
  EFFNET_CHECK(x.dim() == 4 && x.size(1) == channels_, "BatchNorm2d(", channels_, "): expected (N, ", channels_,
               ", H, W), got ", x.str());
  if (sync_ && is_training())
    return apply_activation(
        sync_batch_norm2d(x, weight, bias, running_mean, running_var, true, opts_.momentum, opts_.eps, sync_), act);
  return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), opts_.momentum, opts_.eps, act);
}

int64_t set_sync_batch_norm(Module& root, const AllReduceSum& all_reduce_sum) {
  int64_t n = 0;
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&root)) {
    bn->set_sync(all_reduce_sum);
    ++n;
  }
  for (const auto& [name, child] : root.children()) n += set_sync_batch_norm(*child, all_reduce_sum);
  return n;
}

}  // namespace effnet::nn
