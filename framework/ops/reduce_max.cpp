// max / argmax: validation, the (outer, D, inner) view, autograd and dispatch. Kernels live in
// reduce_max_cpu.cpp and reduce_max_cuda.cu.
#include "framework/ops/reduce_max.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/reduce_max_kernels.h"

namespace effnet {
namespace {

struct Plan {
  MaxDims dims;
  Shape out_shape;  // with or without the reduced dimension, per keepdim
};

Plan plan_max(const char* op, const Tensor& x, int64_t dim, bool keepdim) {
  EFFNET_CHECK(is_floating(x.dtype()), op, ": floating tensor expected, got ", x.str());
  const int64_t n = x.dim();
  EFFNET_CHECK(n >= 1, op, ": needs at least one dimension, got ", x.str());
  EFFNET_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for ", x.str());
  if (dim < 0) dim += n;
  EFFNET_CHECK(x.shape()[size_t(dim)] > 0, op, ": dimension ", dim, " of ", x.str(), " is empty");
  Plan p;
  for (int64_t d = 0; d < n; ++d) {
    const int64_t size = x.shape()[size_t(d)];
    if (d < dim) p.dims.outer *= size;
    else if (d == dim) p.dims.D = size;
    else p.dims.inner *= size;
    if (d != dim) p.out_shape.push_back(size);
    else if (keepdim) p.out_shape.push_back(1);
  }
  return p;
}

// Scatters g to the saved argmax positions; the scatter itself is not recorded.
struct MaxBackward : Node {
  MaxDims dims;
  Shape input_shape;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor indices = saved(0);
    EFFNET_CHECK(g.numel() == indices.numel(), name(), ": gradient ", g.str(), " does not match ", indices.str());
    Tensor dx = Tensor::empty(input_shape, g.dtype(), g.device());
    EFFNET_DISPATCH(g, max_backward, g, indices, dx, dims);
    return {dx};
  }
  const char* name() const override { return "MaxBackward"; }
};

MaxResult run_max(const Plan& p, const Tensor& x) {
  MaxResult r{Tensor::empty(p.out_shape, x.dtype(), x.device()), Tensor::empty(p.out_shape, DType::Int64, x.device())};
  EFFNET_DISPATCH(x, max_forward, x, r.values, r.indices, p.dims);
  return r;
}

}  // namespace

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  Plan p = plan_max("max", x, dim, keepdim);
  MaxResult r = run_max(p, x);
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<MaxBackward>();
    node->dims = p.dims;
    node->input_shape = x.shape();
    node->save(r.indices);
    autograd::record(r.values, node, x);
  }
  return r;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return run_max(plan_max("argmax", x, dim, keepdim), x).indices;
}

}  // namespace effnet
