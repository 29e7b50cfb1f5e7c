// Batch norm folded into the preceding convolution for inference (see conv_bn_fold.h).
#include "layers/conv_bn_fold.h"

#include "framework/autograd/node.h"
#include "framework/ops/binary.h"
#include "framework/ops/unary.h"

namespace effnet::nn {

FusedActivation fused_activation(Activation a) {
  switch (a) {
    case Activation::Swish: return FusedActivation::Silu;
    case Activation::ReLU6: return FusedActivation::Relu6;
    case Activation::ReLU: return FusedActivation::Relu;
    case Activation::Sigmoid: return FusedActivation::Sigmoid;
    case Activation::Identity: break;
  }
  return FusedActivation::None;
}

bool ConvBnFold::folds(const Conv2d& conv, const BatchNorm2d& bn, const Tensor& x) {
  return !bn.is_training() && !autograd::needs_grad({&x, &conv.weight, &conv.bias, &bn.weight, &bn.bias});
}

std::pair<Tensor, Tensor> ConvBnFold::folded(const Conv2d& conv, const BatchNorm2d& bn) {
  const std::vector<const Tensor*> now = {&conv.weight, &conv.bias, &bn.weight, &bn.bias, &bn.running_mean,
                                          &bn.running_var};
  bool fresh = sources_.size() == now.size();
  for (size_t i = 0; fresh && i < now.size(); ++i) {
    const Tensor& t = *now[i];
    const Source& s = sources_[i];
    fresh = t.defined() == s.tensor.defined() &&
            (!t.defined() || (t.raw_data() == s.data && t.version() == s.version));
  }
  if (fresh) return {weight_, bias_};

  NoGradGuard no_grad;
  const int64_t c = bn.channels();
  EFFNET_CHECK(conv.weight.size(0) == c, "ConvBnFold: convolution has ", conv.weight.size(0),
               " output channels but the batch norm ", c);
  // s = gamma / sqrt(running_var + eps), per output channel.
  Tensor s = div(bn.weight, sqrt(affine(bn.running_var, 1.0, bn.options().eps)));
  weight_ = mul(conv.weight, s.reshape({c, 1, 1, 1}));
  Tensor centred = conv.bias.defined() ? sub(conv.bias, bn.running_mean) : affine(bn.running_mean, -1.0, 0.0);
  bias_ = add(mul(centred, s), bn.bias);
  sources_.clear();
  for (const Tensor* t : now)
    sources_.push_back(t->defined() ? Source{*t, t->raw_data(), t->version()} : Source{});
  return {weight_, bias_};
}

Tensor ConvBnFold::forward(Conv2d& conv, BatchNorm2d& bn, Activation act, const Tensor& x,
                           const Tensor& input_scale) {
  const bool scaled = input_scale.defined();
  if (!folds(conv, bn, x) || (scaled && autograd::needs_grad(input_scale)))
    return bn.forward(conv.forward(scaled ? mul(x, input_scale) : x), fused_activation(act));
  auto [w, b] = folded(conv, bn);
  const FusedActivation fused = fused_activation(act);
  const Conv2dOptions& o = conv.options();
  Tensor y;
  if (scaled && o.kernel == 1 && o.stride == 1 && o.groups == 1) {
    Conv2dParams p;
    p.activation = fused;
    y = conv2d_scaled_input(x, input_scale, w, b, p);
  } else {
    y = conv.forward_with(scaled ? mul(x, input_scale) : x, w, b, fused);
  }
  return fused == FusedActivation::None ? activate(y, act) : y;
}

}  // namespace effnet::nn
