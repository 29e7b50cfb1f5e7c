// MBConv block (see mbconv.h).
#include "efficientnet/mbconv.h"

#include "framework/ops/binary.h"

namespace effnet {

using namespace nn;

MBConv::MBConv(const MBConvOptions& o, Generator& gen) : opts_(o) {
  const ScaledBlock& b = o.block;
  int64_t mid = b.in_channels * b.expand_ratio;
  skip_ = b.stride == 1 && b.in_channels == b.out_channels;
  if (b.expand_ratio != 1) {
    expand_conv = register_module("expand_conv",
                                  std::make_shared<Conv2d>(Conv2dOptions{b.in_channels, mid, 1, 1, 1, false, o.padding}, gen));
    expand_bn = register_module("expand_bn", std::make_shared<BatchNorm2d>(mid, o.bn));
  }
  depthwise_conv = register_module(
      "depthwise_conv", std::make_shared<Conv2d>(Conv2dOptions{mid, mid, b.kernel, b.stride, mid, false, o.padding}, gen));
  depthwise_bn = register_module("depthwise_bn", std::make_shared<BatchNorm2d>(mid, o.bn));
  if (b.se_channels > 0) se = register_module("se", std::make_shared<SqueezeExcitation>(mid, b.se_channels, o.activation, gen));
  project_conv = register_module(
      "project_conv", std::make_shared<Conv2d>(Conv2dOptions{mid, b.out_channels, 1, 1, 1, false, o.padding}, gen));
  project_bn = register_module("project_bn", std::make_shared<BatchNorm2d>(b.out_channels, o.bn));
  if (skip_) drop_connect = register_module("drop_connect", std::make_shared<DropConnect>(b.drop_connect));
}

Tensor MBConv::forward(const Tensor& x) {
  Tensor h = x;
  // Each conv -> BN (-> act) folds into one convolution in inference (layers/conv_bn_fold.h).
  if (expand_conv) h = expand_fold_.forward(*expand_conv, *expand_bn, opts_.activation, h);
  h = depthwise_fold_.forward(*depthwise_conv, *depthwise_bn, opts_.activation, h);
  // Squeeze-excitation: in inference its gate scales the projection's input inside the folded
  // convolution; otherwise it is one op of its own (framework/ops/squeeze_excitation.h).
  Tensor gate;
  if (se && ConvBnFold::folds(*project_conv, *project_bn, h)) gate = se->gate(h);
  else if (se) h = se->forward(h);
  h = project_fold_.forward(*project_conv, *project_bn, Activation::Identity, h, gate);
  if (skip_) h = add(drop_connect->forward(h), x);
  return h;
}

}  // namespace effnet
