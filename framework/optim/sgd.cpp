// SGD: hyper-parameter checks, momentum buffer creation and dispatch to the fused multi-tensor
// update.
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

int64_t SGD::group_key(size_t index) const { return momentum_buffers_.tensors[index].defined() ? 1 : 0; }

void SGD::update(const std::vector<size_t>& indices) {
  SgdConfig config = hyper_;
  config.lr = lr();
  std::vector<Tensor> params = params_at(indices), buffers;
  if (config.momentum != 0.0) {
    // The group shares group_key: every buffer exists, or none does yet. Uninitialised is fine
    // then: the first update writes the buffer without reading it.
    config.first_step = !momentum_buffers_.tensors[indices[0]].defined();
    for (size_t j = 0; j < indices.size(); ++j)
      buffers.push_back(config.first_step ? Tensor::empty(params[j].shape(), params[j].dtype(), params[j].device())
                                          : momentum_buffers_.tensors[indices[j]]);
  }
  EFFNET_DISPATCH(params[0], sgd_update, params, grads_at(indices), buffers, config);
  for (size_t j = 0; j < buffers.size(); ++j) momentum_buffers_.keep(indices[j], buffers[j]);
}

}  // namespace effnet
