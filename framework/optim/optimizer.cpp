// Optimizer base: parameter checks, the shared step loop (parameters grouped for multi-tensor
// updates), and generic save/restore of the
// per-parameter state buffers.
#include "framework/optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/node.h"

namespace effnet {

namespace {
std::string param_label(const Tensor& p, size_t i) {
  std::string label = "parameter " + std::to_string(i);
  if (p.defined() && !p.name().empty()) label += " (" + p.name() + ")";
  return label;
}
}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(0.0) {
  set_lr(lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    EFFNET_CHECK(p.defined(), name_, ": ", param_label(p, i), " is an undefined tensor");
    EFFNET_CHECK(p.is_leaf(), name_, ": ", param_label(p, i), " ", p.str(),
                 " is not a leaf (it has a grad_fn); optimize the leaf it was computed from");
    EFFNET_CHECK(is_floating(p.dtype()), name_, ": ", param_label(p, i), " must be a floating tensor, got ", p.str());
    for (size_t j = 0; j < i; ++j)
      EFFNET_CHECK(!params_[j].same(p), name_, ": ", param_label(p, i), " is the same tensor as ",
                   param_label(params_[j], j), "; it would be updated twice per step");
  }
}

void Optimizer::set_lr(double lr) {
  EFFNET_CHECK(std::isfinite(lr) && lr >= 0.0, name_, ": learning rate must be finite and >= 0, got ", lr);
  lr_ = lr;
}

void Optimizer::set_step_count(int64_t steps) {
  EFFNET_CHECK(steps >= 0, name_, ": step count must be >= 0, got ", steps);
  step_count_ = steps;
}

void Optimizer::step() {
  // Check every gradient before touching any parameter, so a bad one leaves the model unchanged.
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    EFFNET_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), name_,
                 ": gradient ", g.str(), " does not match ", param_label(p, i), " ", p.str());
  }
  NoGradGuard no_grad;
  // Groups in order of first appearance; a model has one or two (dtype, device, key) groups.
  struct Group {
    DType dtype;
    Device device;
    int64_t key;
    std::vector<size_t> indices;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const int64_t key = group_key(i);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.dtype == p.dtype() && g.device == p.device() && g.key == key;
    });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{p.dtype(), p.device(), key, {}});
    it->indices.push_back(i);
  }
  for (const Group& g : groups) {
    update(g.indices);
    for (size_t i : g.indices) params_[i].bump_version();
  }
  ++step_count_;
}

std::vector<Tensor> Optimizer::params_at(const std::vector<size_t>& indices) const {
  std::vector<Tensor> out;
  out.reserve(indices.size());
  for (size_t i : indices) out.push_back(params_[i]);
  return out;
}

std::vector<Tensor> Optimizer::grads_at(const std::vector<size_t>& indices) const {
  std::vector<Tensor> out;
  out.reserve(indices.size());
  for (size_t i : indices) out.push_back(params_[i].grad());
  return out;
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.set_grad(Tensor());
}

Optimizer::StateBuffer& Optimizer::add_state_buffer(const std::string& name) {
  for (const StateBuffer& b : buffers_)
    EFFNET_CHECK(b.name != name, name_, ": state buffer '", name, "' registered twice");
  buffers_.push_back(StateBuffer{name, std::vector<Tensor>(params_.size())});
  return buffers_.back();
}

NamedTensors Optimizer::state() const {
  NoGradGuard no_grad;
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const StateBuffer& b : buffers_)
      if (b.tensors[i].defined()) out.emplace_back(b.name + "." + std::to_string(i), b.tensors[i].clone());
  return out;
}

std::pair<std::string, size_t> Optimizer::parse_state_name(const std::string& full_name) const {
  size_t dot = full_name.rfind('.');
  bool ok = dot != std::string::npos && dot > 0 && dot + 1 < full_name.size() && dot + 19 > full_name.size();
  for (size_t k = dot + 1; ok && k < full_name.size(); ++k) ok = full_name[k] >= '0' && full_name[k] <= '9';
  EFFNET_CHECK(ok, name_, ": state entry '", full_name, "' is not named <buffer>.<parameter index>");
  size_t index = size_t(std::stoull(full_name.substr(dot + 1)));
  EFFNET_CHECK(index < params_.size(), name_, ": state entry '", full_name, "' names parameter ", index,
               " but the optimizer has ", params_.size(), " parameters");
  return {full_name.substr(0, dot), index};
}

void Optimizer::load_state(const NamedTensors& state) {
  NoGradGuard no_grad;
  // Built aside and swapped in at the end, so a bad entry leaves the current state untouched.
  std::vector<std::vector<Tensor>> fresh(buffers_.size(), std::vector<Tensor>(params_.size()));
  for (const auto& [full_name, t] : state) {
    auto [buffer, index] = parse_state_name(full_name);
    size_t k = 0;
    while (k < buffers_.size() && buffers_[k].name != buffer) ++k;
    if (k == buffers_.size()) {
      std::string known;
      for (const StateBuffer& b : buffers_) known += (known.empty() ? "" : ", ") + b.name;
      EFFNET_THROW(name_, ": unknown state entry '", full_name, "' (this optimizer keeps: ",
                   known.empty() ? "nothing" : known, ")");
    }
    const Tensor& p = params_[index];
    EFFNET_CHECK(!fresh[k][index].defined(), name_, ": state entry '", full_name, "' given twice");
    EFFNET_CHECK(t.defined(), name_, ": state entry '", full_name, "' is an undefined tensor");
    EFFNET_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), name_, ": state entry '", full_name, "' ",
                 t.str(), " does not match ", param_label(p, index), " ", p.str());
    Tensor copy = Tensor::empty(p.shape(), p.dtype(), p.device());
    copy.copy_(t);
    fresh[k][index] = copy;
  }
  // A parameter's buffers are created together on its first update; a partial set cannot resume.
  for (size_t i = 0; i < params_.size(); ++i)
    for (size_t k = 1; k < buffers_.size(); ++k)
      EFFNET_CHECK(fresh[k][i].defined() == fresh[0][i].defined(), name_, ": state of parameter ", i, " has '",
                   buffers_[fresh[0][i].defined() ? 0 : k].name, ".", i, "' but no '",
                   buffers_[fresh[0][i].defined() ? k : 0].name, ".", i, "'");
  for (size_t k = 0; k < buffers_.size(); ++k) buffers_[k].tensors = std::move(fresh[k]);
}

}  // namespace effnet
