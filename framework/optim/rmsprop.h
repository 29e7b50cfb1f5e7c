// RMSprop as TensorFlow implements it and as EfficientNet was trained (decay 0.9, momentum 0.9,
// epsilon 1e-3). It differs from PyTorch's RMSprop in three ways:
//   * eps sits inside the square root:   ms  = rho·ms + (1 - rho)·g²
//                                         mom = momentum·mom + lr·g / sqrt(ms + eps)
//                                         p  -= mom
//   * the learning rate is folded into the momentum buffer (a schedule's lr change therefore
//     acts on new gradients only, not on the accumulated velocity);
//   * the mean square ms starts at 1.0, not 0 (TF's RMSPropOptimizer initialises its "rms" slot
//     with ones), so early steps are not blown up by a near-zero denominator.
// weight_decay (default 0) adds weight_decay·p to the gradient (L2), which matches TF EfficientNet's
// weight_decay·sum(l2_loss(w)) term in the loss. With momentum 0 no momentum buffer is kept and
// p -= lr·g / sqrt(ms + eps).
// State: "square_avg.<i>" and, when momentum != 0, "momentum.<i>".
#pragma once

#include "framework/optim/optim_kernels.h"
#include "framework/optim/optimizer.h"

namespace effnet {

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, double lr, double rho = 0.9, double momentum = 0.9, double eps = 1e-3,
          double weight_decay = 0.0);

  double rho() const { return hyper_.rho; }
  double momentum() const { return hyper_.momentum; }
  double eps() const { return hyper_.eps; }
  double weight_decay() const { return hyper_.weight_decay; }

 protected:
  void update(const std::vector<size_t>& indices) override;

 private:
  RmspropConfig hyper_;  // the hyper-parameters; update() fills in the per-update fields of a copy
  StateBuffer& square_avg_;
  StateBuffer* momentum_buffers_;  // null when momentum == 0
};

}  // namespace effnet
