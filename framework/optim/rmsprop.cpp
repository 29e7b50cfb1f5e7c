// RMSprop (TF flavour): hyper-parameter checks, state buffers (mean square starting at 1) and
// dispatch to the fused update.
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

void RMSprop::update(size_t index, const Tensor& param, const Tensor& grad) {
  Tensor ms = square_avg_.tensors[index], mom;
  if (!ms.defined()) ms = ones_like(param);  // TF's initial mean square (see rmsprop.h)
  if (momentum_buffers_) {
    mom = momentum_buffers_->tensors[index];
    if (!mom.defined()) mom = zeros_like(param);
  }
  RmspropConfig config = hyper_;
  config.lr = lr();
  EFFNET_DISPATCH(param, rmsprop_update, param, grad, ms, mom, config);
  square_avg_.keep(index, ms);
  if (mom.defined()) momentum_buffers_->keep(index, mom);
}

}  // namespace effnet
