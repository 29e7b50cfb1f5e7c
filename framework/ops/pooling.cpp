// Pooling: validation, autograd node and dispatch. Kernels live in pooling_cpu.cpp and
// pooling_cuda.cu.
#include "framework/ops/pooling.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/pooling_kernels.h"

namespace effnet {
namespace {

// Each input element contributed 1/(H*W) of its plane's mean: the gradient is g spread evenly.
struct GlobalAvgPool2dBackward : Node {
  explicit GlobalAvgPool2dBackward(Shape input_shape) : input_shape(std::move(input_shape)) {}
  Shape input_shape;
  std::vector<Tensor> apply(const Tensor& g) override {
    const int64_t planes = input_shape[0] * input_shape[1], hw = input_shape[2] * input_shape[3];
    Tensor gx = Tensor::empty(input_shape, g.dtype(), g.device());
    EFFNET_DISPATCH(g, global_avg_pool2d_backward, g, gx, planes, hw);
    return {gx};
  }
  const char* name() const override { return "GlobalAvgPool2dBackward"; }
};

}  // namespace

Tensor global_avg_pool2d(const Tensor& x) {
  EFFNET_CHECK(x.defined(), "global_avg_pool2d: undefined input");
  EFFNET_CHECK(x.dim() == 4, "global_avg_pool2d: expected a 4-D (N, C, H, W) input, got ", x.str());
  EFFNET_CHECK(is_floating(x.dtype()), "global_avg_pool2d: floating input expected, got ", x.str());
  const int64_t planes = x.size(0) * x.size(1), hw = x.size(2) * x.size(3);
  EFFNET_CHECK(hw > 0, "global_avg_pool2d: empty spatial size in ", x.str());
  Tensor out = Tensor::empty({x.size(0), x.size(1), 1, 1}, x.dtype(), x.device());
  EFFNET_DISPATCH(x, global_avg_pool2d, x, out, planes, hw);
  if (autograd::needs_grad(x)) autograd::record(out, std::make_shared<GlobalAvgPool2dBackward>(x.shape()), x);
  return out;
}

}  // namespace effnet
