// Activation choice and dispatch (see activation.h).
#include "layers/activation.h"

#include "framework/ops/unary.h"

namespace effnet::nn {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Swish: return "swish";
    case Activation::ReLU6: return "relu6";
    case Activation::ReLU: return "relu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Identity: return "identity";
  }
  return "?";
}

Activation parse_activation(const std::string& s) {
  if (s == "swish" || s == "silu") return Activation::Swish;
  if (s == "relu6") return Activation::ReLU6;
  if (s == "relu") return Activation::ReLU;
  if (s == "sigmoid") return Activation::Sigmoid;
  if (s == "identity") return Activation::Identity;
  EFFNET_THROW("unknown activation '", s, "' (expected swish, relu6, relu, sigmoid or identity)");
}

Tensor activate(const Tensor& x, Activation a) {
  switch (a) {
    case Activation::Swish: return swish(x);
    case Activation::ReLU6: return relu6(x);
    case Activation::ReLU: return relu(x);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Identity: return x;
  }
  return x;
}

}  // namespace effnet::nn
