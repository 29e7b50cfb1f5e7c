// conv2d: validation, the autograd node and dispatch. Kernels live in conv2d_cpu.cpp and
// conv2d_cuda.cu. Backward uses dedicated kernels (data-gradient, filter-gradient, bias-gradient)
// rather than composing differentiable ops: convolution is the hot op of the network.
#include "framework/ops/conv2d.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/conv2d_kernels.h"
#include "framework/ops/binary.h"
#include "framework/ops/unary.h"

namespace effnet {
namespace {

Conv2dGeometry check_and_plan(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  EFFNET_CHECK(x.defined() && w.defined(), "conv2d: input and weight must be defined tensors");
  EFFNET_CHECK(x.dim() == 4, "conv2d: input must be 4-D (N, C, H, W), got ", x.str());
  EFFNET_CHECK(w.dim() == 4, "conv2d: weight must be 4-D (Cout, Cin/groups, kh, kw), got ", w.str(),
               " for input ", x.str());
  EFFNET_SAME_DEVICE("conv2d", x, w);
  EFFNET_CHECK(x.dtype() == w.dtype(), "conv2d: dtypes differ: input ", x.str(), ", weight ", w.str());
  EFFNET_CHECK(is_floating(x.dtype()), "conv2d: floating tensors expected, got ", x.str());
  EFFNET_CHECK(!x.is_cuda() || x.dtype() == DType::Float32, "conv2d: CUDA tensors must be float32, got ", x.str());
  EFFNET_CHECK(p.groups >= 1, "conv2d: groups must be >= 1, got ", p.groups);
  EFFNET_CHECK(p.stride_h >= 1 && p.stride_w >= 1, "conv2d: strides must be >= 1, got (", p.stride_h, ", ",
               p.stride_w, ")");
  EFFNET_CHECK(p.pad_h >= 0 && p.pad_w >= 0, "conv2d: padding must be >= 0, got (", p.pad_h, ", ", p.pad_w, ")");

  Conv2dGeometry g;
  g.n = x.size(0), g.c_in = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.c_out = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.stride_h = p.stride_h, g.stride_w = p.stride_w, g.pad_h = p.pad_h, g.pad_w = p.pad_w, g.groups = p.groups;
  g.activation = p.activation;

  EFFNET_CHECK(x.numel() > 0 && w.numel() > 0, "conv2d: empty input ", x.str(), " or weight ", w.str());
  EFFNET_CHECK(g.c_in % g.groups == 0, "conv2d: groups ", g.groups, " does not divide the ", g.c_in,
               " input channels of ", x.str());
  EFFNET_CHECK(g.c_out % g.groups == 0, "conv2d: groups ", g.groups, " does not divide the ", g.c_out,
               " output channels of weight ", w.str());
  EFFNET_CHECK(w.size(1) * g.groups == g.c_in, "conv2d: input ", x.str(), " has ", g.c_in,
               " channels but weight ", w.str(), " with groups ", g.groups, " expects ", w.size(1) * g.groups,
               " (weight.size(1) * groups)");
  EFFNET_CHECK(g.h + 2 * g.pad_h >= g.kh && g.w + 2 * g.pad_w >= g.kw, "conv2d: kernel ", g.kh, "x", g.kw,
               " of weight ", w.str(), " is larger than the padded input ", x.str(), " (padding ", g.pad_h, ", ",
               g.pad_w, ")");
  g.ho = conv2d_output_size(g.h, g.kh, g.stride_h, g.pad_h);
  g.wo = conv2d_output_size(g.w, g.kw, g.stride_w, g.pad_w);

  if (bias.defined()) {
    EFFNET_SAME_DEVICE("conv2d", x, bias);
    EFFNET_CHECK(bias.dtype() == x.dtype(), "conv2d: bias dtype differs: bias ", bias.str(), ", input ", x.str());
    EFFNET_CHECK(bias.dim() == 1 && bias.size(0) == g.c_out, "conv2d: bias must have shape [", g.c_out,
                 "] to match weight ", w.str(), ", got ", bias.str());
  }
  return g;
}

struct Conv2dBackward : Node {
  Conv2dGeometry geom;
  std::vector<Tensor> apply(const Tensor& gy) override {
    Tensor x = saved(0), w = saved(1);
    Tensor gx, gw, gb;
    if (next[0]) {
      gx = Tensor::empty({geom.n, geom.c_in, geom.h, geom.w}, gy.dtype(), gy.device());
      EFFNET_DISPATCH(gy, conv2d_backward_input, gy, w, gx, geom);
    }
    if (next[1]) {
      gw = Tensor::empty({geom.c_out, geom.c_in_per_group(), geom.kh, geom.kw}, gy.dtype(), gy.device());
      EFFNET_DISPATCH(gy, conv2d_backward_weight, gy, x, gw, geom);
    }
    if (next[2]) {
      gb = Tensor::empty({geom.c_out}, gy.dtype(), gy.device());
      EFFNET_DISPATCH(gy, conv2d_backward_bias, gy, gb, geom);
    }
    return {gx, gw, gb};
  }
  const char* name() const override { return "Conv2dBackward"; }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  Conv2dGeometry g = check_and_plan(x, w, bias, p);
  const bool fused = p.activation != FusedActivation::None;
  EFFNET_CHECK(!fused || !autograd::needs_grad({&x, &w, &bias}),
               "conv2d: a fused activation is for inference only; input, weight or bias requires grad");
  if (fused && x.is_cuda()) {
    g.activation = FusedActivation::None;
    Tensor y = Tensor::empty({g.n, g.c_out, g.ho, g.wo}, x.dtype(), x.device());
    EFFNET_DISPATCH(x, conv2d_forward, x, w, bias, y, g);
    return apply_activation(y, p.activation);  // not fused on CUDA
  }
  Tensor y = Tensor::empty({g.n, g.c_out, g.ho, g.wo}, x.dtype(), x.device());
  EFFNET_DISPATCH(x, conv2d_forward, x, w, bias, y, g);
  if (autograd::needs_grad({&x, &w, &bias})) {
    auto node = std::make_shared<Conv2dBackward>();
    node->geom = g;
    // x is needed only for the weight gradient and w only for the input gradient; an unneeded
    // slot holds an undefined tensor, so a later in-place change to it is no error.
    node->save(autograd::needs_grad(w) ? x : Tensor());
    node->save(autograd::needs_grad(x) ? w : Tensor());
    autograd::record(y, node, {&x, &w, &bias});
  }
  return y;
}

Tensor conv2d_scaled_input(const Tensor& x, const Tensor& scale, const Tensor& w, const Tensor& bias,
                           const Conv2dParams& p) {
  Conv2dGeometry g = check_and_plan(x, w, bias, p);
  EFFNET_CHECK(g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
                   g.groups == 1,
               "conv2d_scaled_input: a pointwise convolution (1x1, stride 1, no padding, groups 1) expected, got "
               "weight ", w.str(), " stride ", g.stride_h, " pad ", g.pad_h, " groups ", g.groups);
  EFFNET_CHECK(scale.defined() && scale.dim() == 4 && scale.size(0) == g.n && scale.size(1) == g.c_in &&
                   scale.size(2) == 1 && scale.size(3) == 1,
               "conv2d_scaled_input: scale must be (", g.n, ", ", g.c_in, ", 1, 1) for input ", x.str(), ", got ",
               scale.str());
  EFFNET_SAME_DEVICE("conv2d_scaled_input", x, scale);
  EFFNET_CHECK(scale.dtype() == x.dtype(), "conv2d_scaled_input: dtypes differ: input ", x.str(), ", scale ",
               scale.str());
  EFFNET_CHECK(!autograd::needs_grad({&x, &scale, &w, &bias}),
               "conv2d_scaled_input: inference only; an input requires grad");
  if (x.is_cuda()) return conv2d(mul(x, scale), w, bias, p);
  Tensor y = Tensor::empty({g.n, g.c_out, g.ho, g.wo}, x.dtype(), x.device());
  cpu::conv2d_forward_scaled_input(x, scale, w, bias, y, g);
  return y;
}

}  // namespace effnet
