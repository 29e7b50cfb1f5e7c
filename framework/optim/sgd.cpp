// SGD: hyper-parameter checks, momentum buffer creation and dispatch to the fused update.
#include "framework/optim/sgd.h"

#include <cmath>

#include "framework/core/backend.h"

namespace effnet {

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double dampening, double weight_decay,
         bool nesterov)
    : Optimizer("SGD", std::move(params), lr),
      hyper_{momentum, dampening, weight_decay, nesterov},
      momentum_buffers_(add_state_buffer("momentum")) {
  EFFNET_CHECK(std::isfinite(momentum) && momentum >= 0.0, "SGD: momentum must be >= 0, got ", momentum);
  EFFNET_CHECK(std::isfinite(dampening) && dampening >= 0.0, "SGD: dampening must be >= 0, got ", dampening);
  EFFNET_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0, "SGD: weight_decay must be >= 0, got ",
               weight_decay);
  EFFNET_CHECK(!nesterov || (momentum > 0.0 && dampening == 0.0),
               "SGD: nesterov momentum requires momentum > 0 and dampening 0, got momentum ", momentum,
               ", dampening ", dampening);
}

void SGD::update(size_t index, const Tensor& param, const Tensor& grad) {
  SgdConfig config = hyper_;
  config.lr = lr();
  Tensor buffer;
  if (config.momentum != 0.0) {
    buffer = momentum_buffers_.tensors[index];
    config.first_step = !buffer.defined();
    // Uninitialised is fine: the first update writes the buffer without reading it.
    if (config.first_step) buffer = Tensor::empty(param.shape(), param.dtype(), param.device());
  }
  EFFNET_DISPATCH(param, sgd_update, param, grad, buffer, config);
  if (buffer.defined()) momentum_buffers_.keep(index, buffer);
}

}  // namespace effnet
