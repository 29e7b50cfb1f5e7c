// sum / mean / sum_to: validation, autograd and the plan. Adjacent reduced dimensions are merged,
// and each run of them is one (outer, reduce, inner) pass, so (N,C,H,W) -> (C) takes two passes.
#include "framework/ops/reduce.h"

#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/binary.h"
#include "framework/ops/broadcast.h"
#include "framework/ops/reduce_kernels.h"

namespace effnet {
namespace {

std::vector<int64_t> normalize_dims(const char* op, const Tensor& x, std::vector<int64_t> dims) {
  int64_t n = x.dim();
  if (dims.empty())
    for (int64_t d = 0; d < n; ++d) dims.push_back(d);
  for (auto& d : dims) {
    EFFNET_CHECK(d >= -n && d < n, op, ": dimension ", d, " out of range for ", x.str());
    if (d < 0) d += n;
  }
  std::sort(dims.begin(), dims.end());
  EFFNET_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), op, ": repeated dimension");
  return dims;
}

// Reduces (no autograd) and returns the keepdim-shaped result.
Tensor reduce_sum_keepdim(const Tensor& x, const std::vector<int64_t>& dims, double scale) {
  Tensor cur = x;
  Shape shape = x.shape();
  // Walk runs of consecutive dims from the last run to the first.
  size_t i = dims.size();
  bool first = true;
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && dims[j - 1] == dims[j] - 1) --j;
    int64_t d0 = dims[j], d1 = dims[i - 1];
    int64_t outer = 1, reduce = 1, inner = 1;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
      if (d < d0) outer *= shape[size_t(d)];
      else if (d <= d1) reduce *= shape[size_t(d)];
      else inner *= shape[size_t(d)];
    }
    for (int64_t d = d0; d <= d1; ++d) shape[size_t(d)] = 1;
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    // The scale is applied once, on the last pass.
    double s = j == 0 ? scale : 1.0;
    EFFNET_DISPATCH(x, sum_middle, cur, out, outer, reduce, inner, s);
    cur = out;
    i = j;
    first = false;
  }
  (void)first;
  if (dims.empty()) {  // nothing to reduce: a copy, scaled
    cur = affine(x.detach(), scale, 0.0);
  }
  return cur;
}

Shape drop_dims(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t d = 0; d < int64_t(s.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(s[size_t(d)]);
  return out;
}

struct SumBackward : Node {
  Shape input_shape, keepdim_shape;
  double scale = 1.0;  // 1/count for mean
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor gk = g.reshape(keepdim_shape);
    Tensor full = broadcast_to(gk, input_shape);
    return {scale == 1.0 ? full : affine(full, scale, 0.0)};
  }
  const char* name() const override { return scale == 1.0 ? "SumBackward" : "MeanBackward"; }
};

Tensor reduce(const char* op, const Tensor& x, std::vector<int64_t> dims_in, bool keepdim, bool average) {
  EFFNET_CHECK(is_floating(x.dtype()), op, ": floating tensor expected, got ", x.str());
  std::vector<int64_t> dims = normalize_dims(op, x, std::move(dims_in));
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[size_t(d)];
  EFFNET_CHECK(!average || count > 0, op, ": mean over zero elements of ", x.str());
  double scale = average ? 1.0 / double(count) : 1.0;
  Tensor kept;
  {
    NoGradGuard no_grad;
    kept = reduce_sum_keepdim(x, dims, scale);
  }
  Tensor out = keepdim ? kept : kept.reshape(drop_dims(x.shape(), dims));
  out = out.detach();
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<SumBackward>();
    node->input_shape = x.shape();
    node->keepdim_shape = kept.shape();
    node->scale = scale;
    autograd::record(out, node, x);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) { return reduce("sum", x, std::move(dims), keepdim, false); }
Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) { return reduce("mean", x, std::move(dims), keepdim, true); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Shape check = broadcast_shapes("sum_to", shape, x.shape());
  EFFNET_CHECK(check == x.shape(), "sum_to: ", shape_str(shape), " does not broadcast to ", x.str());
  // Leading dims that `shape` lacks, plus dims where it has 1 and x does not.
  std::vector<int64_t> dims;
  int64_t lead = x.dim() - int64_t(shape.size());
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[size_t(d - lead)] == 1 && x.shape()[size_t(d)] != 1)) dims.push_back(d);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace effnet
