// Module: the base of every layer. A module owns named parameters (trainable tensors), buffers
// (running statistics) and child modules, so that a whole network can be walked by name
// ("blocks.3.depthwise.weight") for saving, loading, counting, moving and freezing.
// Modules hold their tensors as handles: moving a module to another device swaps the storage
// under each handle, so members and the registry never disagree.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/creation.h"
#include "framework/core/tensor.h"

namespace effnet::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;

  // Recursive, in registration order, names joined with '.'.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters then buffers: everything a weights file holds.
  NamedTensors state() const;
  std::vector<Tensor> parameters() const;
  // Only those that require grad (what an optimizer should update).
  std::vector<Tensor> trainable_parameters() const;
  int64_t parameter_count() const;

  // Training or evaluation mode for this module and its children (a model may keep parts in
  // evaluation mode: EfficientNet with a frozen backbone).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer (in place: handles stay valid) and drops gradients.
  void to(Device device);
  // Converts every floating parameter and buffer (float64 modules are for gradient checks).
  void to(DType dtype);
  Device device() const;
  void zero_grad();
  // Freezing: requires_grad off (or on) for every parameter of this subtree.
  void set_requires_grad(bool on);

  // The child at a dotted path ("blocks.3"); throws if absent.
  Module& submodule(const std::string& path);
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Calls f(path, module) for this module and every descendant, parents first.
  void visit(const std::function<void(const std::string&, Module&)>& f, const std::string& prefix = "");

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(NamedTensors& out, const std::string& prefix, bool params) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Runs children in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    order_.push_back(m);
    return register_module(name, std::move(m));
  }
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return order_.size(); }
  Module& at(size_t i) { return *order_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> order_;
};

}  // namespace effnet::nn
