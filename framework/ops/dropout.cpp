// dropout / drop_connect: validation, the draw from the generator, autograd node and dispatch.
// Kernels live in dropout_cpu.cpp and dropout_cuda.cu.
#include "framework/ops/dropout.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/dropout_kernels.h"

namespace effnet {
namespace {

Tensor run_mask(const Tensor& x, const DropMask& mask) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  EFFNET_DISPATCH(x, apply_drop_mask, x, mask, out);
  return out;
}

// The output is x * mask * scale, so the gradient is g * mask * scale with the same mask,
// regenerated from (seed, offset).
struct DropMaskBackward : Node {
  DropMask mask;
  bool per_sample = false;
  std::vector<Tensor> apply(const Tensor& g) override { return {run_mask(g, mask)}; }
  const char* name() const override { return per_sample ? "DropConnectBackward" : "DropoutBackward"; }
};

void check_args(const char* op, const Tensor& x, double p) {
  EFFNET_CHECK(x.defined(), op, ": undefined input");
  EFFNET_CHECK(is_floating(x.dtype()), op, ": floating input expected, got ", x.str());
  EFFNET_CHECK(p >= 0.0 && p < 1.0, op, ": drop probability p must be in [0, 1), got ", p);
}

Tensor masked(const Tensor& x, double p, int64_t groups, Generator& gen, bool per_sample) {
  DropMask mask;
  mask.seed = gen.seed();
  mask.offset = gen.take(uint64_t(groups));
  mask.threshold = float(p);
  mask.scale = 1.0 / (1.0 - p);
  mask.group = groups > 0 ? x.numel() / groups : 1;
  Tensor out = run_mask(x, mask);
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<DropMaskBackward>();
    node->mask = mask;
    node->per_sample = per_sample;
    autograd::record(out, node, x);
  }
  return out;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_args("dropout", x, p);
  if (!training || p == 0.0) return x;
  return masked(x, p, x.numel(), gen, false);
}

Tensor drop_connect(const Tensor& x, double p, bool training, Generator& gen) {
  check_args("drop_connect", x, p);
  EFFNET_CHECK(x.dim() >= 1, "drop_connect: expected a batched (N, ...) input, got ", x.str());
  if (!training || p == 0.0) return x;
  return masked(x, p, x.size(0), gen, true);
}

}  // namespace effnet
