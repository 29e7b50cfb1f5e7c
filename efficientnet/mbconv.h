// MBConv, the inverted-residual block of EfficientNet:
//   expand 1x1 (skipped when expand_ratio == 1) -> BN -> act
//   -> depthwise kxk, stride s -> BN -> act -> squeeze-excitation (optional)
//   -> project 1x1 -> BN (no activation)
//   -> drop-connect + identity skip when stride == 1 and in == out.
#pragma once

#include "efficientnet/config.h"
#include "layers/conv_bn_fold.h"
#include "layers/regularization.h"
#include "layers/squeeze_excitation.h"

namespace effnet {

struct MBConvOptions {
  ScaledBlock block;
  nn::Activation activation = nn::Activation::Swish;
  nn::PaddingMode padding = nn::PaddingMode::Symmetric;
  nn::BatchNormOptions bn;
};

class MBConv : public nn::Module {
 public:
  MBConv(const MBConvOptions& opts, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MBConv"; }
  bool has_skip() const { return skip_; }
  const ScaledBlock& block() const { return opts_.block; }

  // Null where the block has none (expand at ratio 1, se without squeeze-excitation).
  std::shared_ptr<nn::Conv2d> expand_conv, depthwise_conv, project_conv;
  std::shared_ptr<nn::BatchNorm2d> expand_bn, depthwise_bn, project_bn;
  std::shared_ptr<nn::SqueezeExcitation> se;
  std::shared_ptr<nn::DropConnect> drop_connect;

 private:
  MBConvOptions opts_;
  bool skip_;
  nn::ConvBnFold expand_fold_, depthwise_fold_, project_fold_;
};

}  // namespace effnet
