// Squeeze-and-excitation: spatial mean -> 1x1 conv (reduce, bias) -> activation -> 1x1 conv
// (expand, bias) -> sigmoid -> scale the input channels. The reduced width comes from the MBConv
// block's *input* channels times se_ratio (not the expanded width), as in every EfficientNet source.
#pragma once

#include "layers/activation.h"
#include "layers/conv.h"

namespace effnet::nn {

class SqueezeExcitation : public Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t reduced, Activation act = Activation::Swish,
                    Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;  // x · gate(x)
  // The per-image channel scales (N, C, 1, 1), for a consumer that applies them itself (MBConv's
  // folded projection: layers/conv_bn_fold.h).
  Tensor gate(const Tensor& x);
  std::string type_name() const override { return "SqueezeExcitation"; }
  std::shared_ptr<Conv2d> reduce, expand;

 private:
  Activation act_;
};

}  // namespace effnet::nn
