// Activation layers and the activation choice of a network (swish for EfficientNet B0-B7,
// ReLU6 for the Lite variants).
#pragma once

#include "layers/module.h"

namespace effnet::nn {

enum class Activation { Swish, ReLU6, ReLU, Sigmoid, Identity };
const char* activation_name(Activation a);
Activation parse_activation(const std::string& s);
// Applies the activation function directly (no module).
Tensor activate(const Tensor& x, Activation a);

class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation a) : act_(a) {}
  Tensor forward(const Tensor& x) override { return activate(x, act_); }
  std::string type_name() const override { return activation_name(act_); }
  Activation activation() const { return act_; }

 private:
  Activation act_;
};

inline std::shared_ptr<ActivationLayer> make_activation(Activation a) { return std::make_shared<ActivationLayer>(a); }

}  // namespace effnet::nn
