// Global average pooling to (N, C) — the EfficientNet head pools and flattens in one step.
#pragma once

#include "layers/module.h"

namespace effnet::nn {

class GlobalAvgPool : public Module {
 public:
  explicit GlobalAvgPool(bool flatten = true) : flatten_(flatten) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool"; }

 private:
  bool flatten_;
};

}  // namespace effnet::nn
