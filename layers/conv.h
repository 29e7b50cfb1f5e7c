// Conv2d layer: weight (out, in/groups, k, k), optional bias, and a padding mode. Symmetric
// padding is PyTorch's (k-1)/2; Same is TensorFlow's 'SAME', recomputed from the actual input
// size at every call and applied as an explicit asymmetric zero pad when it is uneven, which is
// what weights converted from TF-lineage checkpoints need.
#pragma once

#include "framework/ops/conv2d.h"
#include "layers/module.h"

namespace effnet::nn {

enum class PaddingMode { Symmetric, Same };
const char* padding_mode_name(PaddingMode m);
PaddingMode parse_padding_mode(const std::string& s);

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0, kernel = 1, stride = 1, groups = 1;
  bool bias = false;
  PaddingMode padding = PaddingMode::Symmetric;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& opts, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  // This layer's geometry and padding with another weight and bias (same shapes) and an output
  // activation fused into the convolution (inference only: conv2d.h). Batch-norm folding uses it.
  Tensor forward_with(const Tensor& x, const Tensor& w, const Tensor& b,
                      FusedActivation act = FusedActivation::None) const;
  std::string type_name() const override { return "Conv2d"; }
  const Conv2dOptions& options() const { return opts_; }
  Tensor weight, bias;
  void set_padding(PaddingMode m) { opts_.padding = m; }

 private:
  Conv2dOptions opts_;
};

}  // namespace effnet::nn
