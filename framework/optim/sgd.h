// Stochastic gradient descent with optional momentum, dampening, L2 weight decay and Nesterov
// momentum, with PyTorch's semantics: the momentum buffer starts as the first (decayed)
// gradient itself, undamped. State: "momentum.<i>" (only when momentum != 0).
#pragma once

#include "framework/optim/optim_kernels.h"
#include "framework/optim/optimizer.h"

namespace effnet {

class SGD : public Optimizer {
 public:
  // Throws on negative hyper-parameters and on nesterov without momentum or with dampening.
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double dampening = 0.0,
      double weight_decay = 0.0, bool nesterov = false);

  double momentum() const { return hyper_.momentum; }
  double dampening() const { return hyper_.dampening; }
  double weight_decay() const { return hyper_.weight_decay; }
  bool nesterov() const { return hyper_.nesterov; }

 protected:
  void update(const std::vector<size_t>& indices) override;
  int64_t group_key(size_t index) const override;

 private:
  SgdConfig hyper_;  // the hyper-parameters; update() fills in the per-update fields of a copy
  StateBuffer& momentum_buffers_;
};

}  // namespace effnet
