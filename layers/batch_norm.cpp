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

Tensor BatchNorm2d::forward(const Tensor& x) {
  EFFNET_CHECK(x.dim() == 4 && x.size(1) == channels_, "BatchNorm2d(", channels_, "): expected (N, ", channels_,
               ", H, W), got ", x.str());
  return batch_norm2d(x, weight, bias, running_mean, running_var, is_training(), opts_.momentum, opts_.eps);
}

}  // namespace effnet::nn
