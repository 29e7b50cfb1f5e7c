// Adam/AdamW: hyper-parameter checks, zero-initialised moment buffers, per-parameter step
// counts (saved as "step.<i>") and dispatch to the fused multi-tensor
// update, one call per group of parameters with equal step counts.
#include "framework/optim/adam.h"

#include <cmath>

#include "framework/core/backend.h"
#include "framework/core/creation.h"

namespace effnet {

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Adam("Adam", false, std::move(params), lr, beta1, beta2, eps, weight_decay) {}

AdamW::AdamW(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Adam("AdamW", true, std::move(params), lr, beta1, beta2, eps, weight_decay) {}

Adam::Adam(const char* name, bool decoupled_weight_decay, std::vector<Tensor> params, double lr, double beta1,
           double beta2, double eps, double weight_decay)
    : Optimizer(name, std::move(params), lr),
      hyper_{beta1, beta2, eps, weight_decay, decoupled_weight_decay},
      exp_avg_(add_state_buffer("exp_avg")),
      exp_avg_sq_(add_state_buffer("exp_avg_sq")),
      param_steps_(this->params().size(), 0) {
  EFFNET_CHECK(beta1 >= 0.0 && beta1 < 1.0, name, ": beta1 must be in [0, 1), got ", beta1);
  EFFNET_CHECK(beta2 >= 0.0 && beta2 < 1.0, name, ": beta2 must be in [0, 1), got ", beta2);
  EFFNET_CHECK(std::isfinite(eps) && eps >= 0.0, name, ": eps must be >= 0, got ", eps);
  EFFNET_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0, name, ": weight_decay must be >= 0, got ",
               weight_decay);
}

int64_t Adam::group_key(size_t index) const { return param_steps_[index]; }

void Adam::update(const std::vector<size_t>& indices) {
  std::vector<Tensor> params = params_at(indices), m, v;
  for (size_t j = 0; j < indices.size(); ++j) {
    const bool first = !exp_avg_.tensors[indices[j]].defined();
    m.push_back(first ? zeros_like(params[j]) : exp_avg_.tensors[indices[j]]);
    v.push_back(first ? zeros_like(params[j]) : exp_avg_sq_.tensors[indices[j]]);
  }
  AdamConfig config = hyper_;
  config.lr = lr();
  config.step = param_steps_[indices[0]] + 1;  // shared within the group (group_key)
  EFFNET_DISPATCH(params[0], adam_update, params, grads_at(indices), m, v, config);
  for (size_t j = 0; j < indices.size(); ++j) {
    exp_avg_.keep(indices[j], m[j]);
    exp_avg_sq_.keep(indices[j], v[j]);
    param_steps_[indices[j]] = config.step;
  }
}

NamedTensors Adam::state() const {
  NamedTensors out = Optimizer::state();
  for (size_t i = 0; i < param_steps_.size(); ++i)
    if (param_steps_[i] > 0)
      out.emplace_back("step." + std::to_string(i), from_vector<int64_t>({param_steps_[i]}, {1}));
  return out;
}

void Adam::load_state(const NamedTensors& state) {
  NamedTensors buffers;
  std::vector<int64_t> steps(params().size(), 0);
  for (const auto& entry : state) {
    auto [buffer, index] = parse_state_name(entry.first);
    if (buffer != "step") {
      buffers.push_back(entry);
      continue;
    }
    const Tensor& t = entry.second;
    EFFNET_CHECK(t.defined() && t.dtype() == DType::Int64 && t.numel() == 1, name(), ": state entry '", entry.first,
                 "' must be a one-element int64 tensor, got ", t.defined() ? t.str() : "an undefined tensor");
    EFFNET_CHECK(steps[index] == 0, name(), ": state entry '", entry.first, "' given twice");
    steps[index] = t.to_vector<int64_t>()[0];
    EFFNET_CHECK(steps[index] > 0, name(), ": state entry '", entry.first, "' must count >= 1 update, got ",
                 steps[index]);
  }
  // A moment buffer without its step count (or the reverse) would restart the bias correction.
  std::vector<bool> has_moments(params().size(), false);
  for (const auto& entry : buffers) has_moments[parse_state_name(entry.first).second] = true;
  for (size_t i = 0; i < steps.size(); ++i)
    EFFNET_CHECK(has_moments[i] == (steps[i] > 0), name(), ": state of parameter ", i,
                 has_moments[i] ? " has moment buffers but no 'step." : " has 'step.", i,
                 has_moments[i] ? "' entry" : "' but no moment buffers");
  Optimizer::load_state(buffers);
  param_steps_ = std::move(steps);
}

}  // namespace effnet
