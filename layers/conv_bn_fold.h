// conv -> batch norm -> activation, the unit EfficientNet is made of, with batch norm folded into
// the convolution for inference. In evaluation mode without autograd the three ops become one
// convolution with
//     W' = W · s,   b' = (b - running_mean) · s + beta,   s = gamma / sqrt(running_var + eps)
// per output channel and the activation fused into its output pass (conv2d.h), which removes two
// of the three passes over the activations. Otherwise (training, or a gradient wanted) it runs the
// three layers as they are. The folded weights are cached and recomputed when any of the five
// tensors they come from is replaced or changed (storage or version counter: an optimizer step,
// a checkpoint load, running statistics updated by a training step).
#pragma once

#include <vector>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"

namespace effnet::nn {

class ConvBnFold {
 public:
  // input_scale (N, Cin, 1, 1), optional: the layers run on x · input_scale (squeeze-excitation's
  // gate before MBConv's projection); folded, a pointwise convolution applies it without the
  // scaled copy of x (conv2d_scaled_input).
  Tensor forward(Conv2d& conv, BatchNorm2d& bn, Activation act, const Tensor& x,
                 const Tensor& input_scale = Tensor());
  // Whether forward(…, x) would fold (evaluation mode, no gradient needed).
  static bool folds(const Conv2d& conv, const BatchNorm2d& bn, const Tensor& x);
  // The folded weight and bias for these layers now (recomputed if stale).
  std::pair<Tensor, Tensor> folded(const Conv2d& conv, const BatchNorm2d& bn);

 private:
  struct Source {
    Tensor tensor;  // held, so its storage cannot be freed and its address reused
    const void* data = nullptr;
    uint64_t version = 0;
  };
  std::vector<Source> sources_;
  Tensor weight_, bias_;
};

// The fused activation for a layer activation, where conv2d has one.
FusedActivation fused_activation(Activation a);

}  // namespace effnet::nn
