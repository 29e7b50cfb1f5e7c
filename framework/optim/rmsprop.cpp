// RMSprop (TF flavour): hyper-parameter checks, state buffers (mean square starting at 1) and
// dispatch to the fused multi-tensor update.
#include "framework/optim/rmsprop.h"

#include <cmath>

#include "framework/core/backend.h"
#include "framework/core/creation.h"

namespace effnet {

RMSprop::RMSprop(std::vector<Tensor> params, double lr, double rho, double momentum, double eps, double weight_decay)
    : Optimizer("RMSprop", std::move(params), lr),
      hyper_{rho, momentum, eps, weight_decay},
      square_avg_(add_state_buffer("square_avg")),
      momentum_buffers_(nullptr) {
  EFFNET_CHECK(rho >= 0.0 && rho < 1.0, "RMSprop: rho (decay) must be in [0, 1), got ", rho);
  EFFNET_CHECK(std::isfinite(momentum) && momentum >= 0.0, "RMSprop: momentum must be >= 0, got ", momentum);
  EFFNET_CHECK(std::isfinite(eps) && eps > 0.0, "RMSprop: eps must be > 0, got ", eps);
  EFFNET_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0, "RMSprop: weight_decay must be >= 0, got ",
               weight_decay);
  if (momentum != 0.0) momentum_buffers_ = &add_state_buffer("momentum");
}

void RMSprop::update(const std::vector<size_t>& indices) {
  std::vector<Tensor> params = params_at(indices), ms, mom;
  for (size_t j = 0; j < indices.size(); ++j) {
    const Tensor& s = square_avg_.tensors[indices[j]];
    ms.push_back(s.defined() ? s : ones_like(params[j]));  // TF's initial mean square (see rmsprop.h)
    if (momentum_buffers_) {
      const Tensor& b = momentum_buffers_->tensors[indices[j]];
      mom.push_back(b.defined() ? b : zeros_like(params[j]));
    }
  }
  RmspropConfig config = hyper_;
  config.lr = lr();
  EFFNET_DISPATCH(params[0], rmsprop_update, params, grads_at(indices), ms, mom, config);
  for (size_t j = 0; j < indices.size(); ++j) {
    square_avg_.keep(indices[j], ms[j]);
    if (momentum_buffers_) momentum_buffers_->keep(indices[j], mom[j]);
  }
}

}  // namespace effnet
