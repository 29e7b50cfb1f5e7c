// Linear layer: y = x W^T + b with W (out, in), initialised as torchvision's EfficientNet
// classifier (uniform in ±1/sqrt(out), bias 0).
#pragma once

#include "layers/module.h"

namespace effnet::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  // Re-creates weight and bias for a new output size, freshly initialised, on the same device
  // (in place, so that every handle to them stays valid).
  void reset(int64_t out_features, Generator& gen = default_generator());
  Tensor weight, bias;

 private:
  int64_t in_, out_;
};

}  // namespace effnet::nn
