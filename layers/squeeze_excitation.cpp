// Squeeze-and-excitation (see squeeze_excitation.h).
#include "layers/squeeze_excitation.h"

#include "layers/conv_bn_fold.h"

#include "framework/ops/binary.h"
#include "framework/ops/pooling.h"
#include "framework/ops/squeeze_excitation.h"
#include "framework/ops/unary.h"

namespace effnet::nn {

SqueezeExcitation::SqueezeExcitation(int64_t channels, int64_t reduced, Activation act, Generator& gen) : act_(act) {
  reduce = register_module("reduce", std::make_shared<Conv2d>(Conv2dOptions{channels, reduced, 1, 1, 1, true}, gen));
  expand = register_module("expand", std::make_shared<Conv2d>(Conv2dOptions{reduced, channels, 1, 1, 1, true}, gen));
}

Tensor SqueezeExcitation::gate(const Tensor& x) {
  Tensor s = global_avg_pool2d(x);  // (N, C, 1, 1)
  s = activate(reduce->forward(s), act_);
  return sigmoid(expand->forward(s));
}

// One op each way (framework/ops/squeeze_excitation.h); equal to mul(x, gate(x)).
Tensor SqueezeExcitation::forward(const Tensor& x) {
  return squeeze_excitation(x, reduce->weight, reduce->bias, expand->weight, expand->bias, fused_activation(act_));
}

}  // namespace effnet::nn
