// Dropout (element-wise, before the classifier) and DropConnect / stochastic depth (per-sample,
// on a residual branch). Both are the identity in eval mode. Masks come from the process-wide
// generator at call time (as in PyTorch), so manual_seed() makes a run reproducible and the same
// seed gives the same masks on CPU and GPU.
#pragma once

#include "layers/module.h"

namespace effnet::nn {

// The drop probability both layers hold.
class RandomDrop : public Module {
 public:
  explicit RandomDrop(double p) : p_(p) {}
  double p() const { return p_; }

 protected:
  double p_;
};

class Dropout : public RandomDrop {
 public:
  using RandomDrop::RandomDrop;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
};

class DropConnect : public RandomDrop {
 public:
  using RandomDrop::RandomDrop;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DropConnect"; }
};

}  // namespace effnet::nn
