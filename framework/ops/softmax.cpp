// softmax / log_softmax: validation, the (outer, D, inner) view, autograd and dispatch. Kernels
// live in softmax_cpu.cpp and softmax_cuda.cu.
#include "framework/ops/softmax.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/softmax_kernels.h"

namespace effnet {
namespace {

SoftmaxDims softmax_dims(const char* op, const Tensor& x, int64_t dim) {
  EFFNET_CHECK(is_floating(x.dtype()), op, ": floating tensor expected, got ", x.str());
  const int64_t n = x.dim();
  EFFNET_CHECK(n >= 1, op, ": needs at least one dimension, got ", x.str());
  EFFNET_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for ", x.str());
  if (dim < 0) dim += n;
  SoftmaxDims s;
  for (int64_t d = 0; d < n; ++d) {
    if (d < dim) s.outer *= x.shape()[size_t(d)];
    else if (d == dim) s.D = x.shape()[size_t(d)];
    else s.inner *= x.shape()[size_t(d)];
  }
  return s;
}

// The backward kernel is not itself recorded: softmax has no double-backward here.
struct SoftmaxBackward : Node {
  SoftmaxDims dims;
  bool log = false;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor y = saved(0);
    Tensor dx = autograd::empty_grad_like(*this, g, y, "the output");
    EFFNET_DISPATCH(y, softmax_backward, y, g, dx, dims, log);
    return {dx};
  }
  const char* name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
};

Tensor run_softmax(const char* op, const Tensor& x, int64_t dim, bool log) {
  SoftmaxDims s = softmax_dims(op, x, dim);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  EFFNET_DISPATCH(x, softmax_forward, x, y, s, log);
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<SoftmaxBackward>();
    node->dims = s;
    node->log = log;
    node->save(y);
    autograd::record(y, node, x);
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return run_softmax("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return run_softmax("log_softmax", x, dim, true); }

}  // namespace effnet
