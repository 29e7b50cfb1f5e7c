// The differentiable all-reduce (see all_reduce_op.h).
#include "framework/dist/all_reduce_op.h"

#include "framework/autograd/node.h"
#include "framework/dist/process_group.h"

namespace effnet::dist {
namespace {

struct AllReduceSumBackward : Node {
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor summed = g.detach().clone();
    all_reduce(summed, ReduceOp::Sum);
    return {summed};
  }
  const char* name() const override { return "AllReduceSumBackward"; }
};

}  // namespace

Tensor all_reduce_sum(const Tensor& x) {
  Tensor out = x.detach().clone();
  all_reduce(out, ReduceOp::Sum);
  if (autograd::needs_grad(x)) autograd::record(out, std::make_shared<AllReduceSumBackward>(), x);
  return out;
}

}  // namespace effnet::dist
