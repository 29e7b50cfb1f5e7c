// pad2d and same_padding: validation, the autograd node (backward = crop) and dispatch. Kernels
// live in pad_cpu.cpp and pad_cuda.cu.
#include "framework/ops/pad.h"

#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/pad_kernels.h"

namespace effnet {
namespace {

void run_pad(const Tensor& in, Tensor& out, int64_t top, int64_t left) {
  EFFNET_DISPATCH(in, pad2d, in, out, top, left);
}

struct Pad2dBackward : Node {
  Shape input_shape;
  int64_t top = 0, left = 0;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor gx = Tensor::empty(input_shape, g.dtype(), g.device());
    run_pad(g, gx, -top, -left);
    return {gx};
  }
  const char* name() const override { return "Pad2dBackward"; }
};

}  // namespace

Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  EFFNET_CHECK(x.dim() >= 2, "pad2d: input needs at least 2 dimensions (..., H, W), got ", x.str());
  EFFNET_CHECK(is_floating(x.dtype()), "pad2d: floating tensor expected, got ", x.str());
  EFFNET_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "pad2d: padding must be >= 0, got (top ", top,
               ", bottom ", bottom, ", left ", left, ", right ", right, ") for ", x.str());
  Shape shape = x.shape();
  shape[shape.size() - 2] += top + bottom;
  shape[shape.size() - 1] += left + right;
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  run_pad(x, out, top, left);
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<Pad2dBackward>();
    node->input_shape = x.shape();
    node->top = top;
    node->left = left;
    autograd::record(out, node, x);
  }
  return out;
}

SamePadding same_padding(int64_t in_h, int64_t in_w, int64_t k, int64_t stride) {
  EFFNET_CHECK(in_h > 0 && in_w > 0 && k > 0 && stride > 0, "same_padding: sizes must be positive, got input ",
               in_h, "x", in_w, ", kernel ", k, ", stride ", stride);
  auto one = [&](int64_t in, int64_t& before, int64_t& after) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t pad = std::max<int64_t>((out - 1) * stride + k - in, 0);
    before = pad / 2;
    after = pad - before;
  };
  SamePadding p;
  one(in_h, p.top, p.bottom);
  one(in_w, p.left, p.right);
  return p;
}

}  // namespace effnet
