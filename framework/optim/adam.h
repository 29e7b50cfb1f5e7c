// Adam and AdamW with PyTorch's semantics (amsgrad off), bias correction included. They differ
// only in weight decay: Adam adds weight_decay·p to the gradient (L2, which the adaptive
// denominator then rescales); AdamW decays the parameter directly, p *= 1 - lr·weight_decay,
// before the Adam step. Each parameter counts its own updates (t in the bias corrections), as in
// PyTorch, so a parameter that skipped steps is corrected for the updates it actually had.
// State: "exp_avg.<i>", "exp_avg_sq.<i>" (parameter-shaped) and "step.<i>" (int64 [1], on the CPU).
#pragma once

#include "framework/optim/optim_kernels.h"
#include "framework/optim/optimizer.h"

namespace effnet {

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0);

  double beta1() const { return hyper_.beta1; }
  double beta2() const { return hyper_.beta2; }
  double eps() const { return hyper_.eps; }
  double weight_decay() const { return hyper_.weight_decay; }
  // Updates applied to params()[index] so far (t of its last bias correction).
  int64_t param_step(size_t index) const { return param_steps_.at(index); }

  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

 protected:
  Adam(const char* name, bool decoupled_weight_decay, std::vector<Tensor> params, double lr, double beta1,
       double beta2, double eps, double weight_decay);
  void update(const std::vector<size_t>& indices) override;
  int64_t group_key(size_t index) const override;

 private:
  AdamConfig hyper_;  // the hyper-parameters; update() fills in the per-update fields of a copy
  StateBuffer& exp_avg_;
  StateBuffer& exp_avg_sq_;
  std::vector<int64_t> param_steps_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default weight_decay 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2);
};

}  // namespace effnet
