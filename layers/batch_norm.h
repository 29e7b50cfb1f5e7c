// BatchNorm2d layer: affine weight/bias, running mean/var buffers, eps and momentum in PyTorch's
// convention (running = (1 - momentum) * running + momentum * batch). TF-lineage EfficientNets use
// eps 1e-3 / momentum 0.01; PyTorch-trained ones 1e-5 / 0.1.
#pragma once

#include "layers/module.h"

namespace effnet::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
};

class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, const BatchNormOptions& opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  const BatchNormOptions& options() const { return opts_; }
  void set_options(const BatchNormOptions& o) { opts_ = o; }
  int64_t channels() const { return channels_; }
  Tensor weight, bias, running_mean, running_var;

 private:
  int64_t channels_;
  BatchNormOptions opts_;
};

}  // namespace effnet::nn
