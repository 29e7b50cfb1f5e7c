// Conv2d layer (see conv.h).
#include "layers/conv.h"

#include "framework/ops/conv2d.h"
#include "framework/ops/pad.h"
#include "layers/init.h"

namespace effnet::nn {

const char* padding_mode_name(PaddingMode m) { return m == PaddingMode::Same ? "same" : "symmetric"; }

PaddingMode parse_padding_mode(const std::string& s) {
  if (s == "same") return PaddingMode::Same;
  if (s == "symmetric") return PaddingMode::Symmetric;
  EFFNET_THROW("unknown padding mode '", s, "' (expected 'same' or 'symmetric')");
}

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : opts_(o) {
  EFFNET_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0 && o.groups > 0,
               "Conv2d: bad options in=", o.in_channels, " out=", o.out_channels, " k=", o.kernel);
  EFFNET_CHECK(o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0, "Conv2d: groups ", o.groups,
               " must divide in ", o.in_channels, " and out ", o.out_channels);
  weight = register_parameter(
      "weight", init::kaiming_normal_fan_out({o.out_channels, o.in_channels / o.groups, o.kernel, o.kernel}, gen));
  if (o.bias) bias = register_parameter("bias", zeros({o.out_channels}));
}

Tensor Conv2d::forward(const Tensor& x) { return forward_with(x, weight, bias); }

Tensor Conv2d::forward_with(const Tensor& x, const Tensor& w, const Tensor& b, FusedActivation act) const {
  EFFNET_CHECK(x.dim() == 4 && x.size(1) == opts_.in_channels, "Conv2d(", opts_.in_channels, "->",
               opts_.out_channels, "): expected input (N, ", opts_.in_channels, ", H, W), got ", x.str());
  Conv2dParams p;
  p.stride_h = p.stride_w = opts_.stride;
  p.groups = opts_.groups;
  p.activation = act;
  if (opts_.padding == PaddingMode::Symmetric) {
    p.pad_h = p.pad_w = (opts_.kernel - 1) / 2;
    return conv2d(x, w, b, p);
  }
  SamePadding s = same_padding(x.size(2), x.size(3), opts_.kernel, opts_.stride);
  if (s.top == s.bottom && s.left == s.right) {
    p.pad_h = s.top;
    p.pad_w = s.left;
    return conv2d(x, w, b, p);
  }
  return conv2d(pad2d(x, s.top, s.bottom, s.left, s.right), w, b, p);
}

}  // namespace effnet::nn
