// Dropout (element-wise, before the classifier) and DropConnect / stochastic depth (per-sample,
// on a residual branch). Both are the identity in eval mode. Masks come from the process-wide
// generator at call time (as in PyTorch), so manual_seed() makes a run reproducible and the same
// seed gives the same masks on CPU and GPU.
#pragma once

#include "layers/module.h"

namespace effnet::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p) : p_(p) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p() const { return p_; }

 private:
  double p_;
};

class DropConnect : public Module {
 public:
  explicit DropConnect(double p) : p_(p) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DropConnect"; }
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace effnet::nn
