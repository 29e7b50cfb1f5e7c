// Stochastic gradient descent with optional momentum, dampening, L2 weight decay and Nesterov
// momentum, with PyTorch's semantics: the momentum buffer starts as the first (decayed)
// gradient itself, undamped. State: "momentum.<i>" (only when momentum != 0).
#pragma once

#include "framework/optim/optimizer.h"

namespace effnet {

class SGD : public Optimizer {
 public:
  // Throws on negative hyper-parameters and on nesterov without momentum or with dampening.
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double dampening = 0.0,
      double weight_decay = 0.0, bool nesterov = false);

  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }

 protected:
  void update(size_t index, const Tensor& param, const Tensor& grad) override;

 private:
  double momentum_, dampening_, weight_decay_;
  bool nesterov_;
  StateBuffer& momentum_buffers_;
};

}  // namespace effnet
