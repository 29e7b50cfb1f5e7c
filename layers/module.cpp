// Module registry, recursion over the tree, device moves and freezing.
#include "layers/module.h"

namespace effnet::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(NamedTensors& out, const std::string& prefix, bool params) const {
  for (const auto& [name, t] : params ? params_ : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(out, prefix + name + ".", params);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect(out, "", true);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect(out, "", false);
  return out;
}

NamedTensors Module::state() const {
  NamedTensors out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(b);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters())
    if (t.requires_grad()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device device) {
  for (auto& [name, t] : state()) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    t.impl().storage = moved.impl().storage;
    t.impl().offset = 0;
    t.set_grad(Tensor());
  }
}

void Module::to(DType dtype) {
  for (auto& [name, t] : state()) {
    if (t.dtype() == dtype || !is_floating(t.dtype())) continue;
    Tensor conv = t.detach().to(dtype);
    t.impl().storage = conv.impl().storage;
    t.impl().offset = 0;
    t.impl().dtype = dtype;
    t.set_grad(Tensor());
  }
}

Device Module::device() const {
  NamedTensors s = state();
  return s.empty() ? Device::cpu() : s.front().second.device();
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.set_grad(Tensor());
}

void Module::set_requires_grad(bool on) {
  for (auto& [n, t] : named_parameters()) {
    t.set_requires_grad(on);
    if (!on) t.set_grad(Tensor());
  }
}

Module& Module::submodule(const std::string& path) {
  Module* cur = this;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Module* found = nullptr;
    for (auto& [n, c] : cur->children_)
      if (n == part) found = c.get();
    EFFNET_CHECK(found, "no submodule '", part, "' in path '", path, "'");
    cur = found;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

void Module::visit(const std::function<void(const std::string&, Module&)>& f, const std::string& prefix) {
  f(prefix, *this);
  for (auto& [n, c] : children_) c->visit(f, prefix.empty() ? n : prefix + "." + n);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : order_) y = m->forward(y);
  return y;
}

}  // namespace effnet::nn
