// squeeze_excitation: validation, the autograd node and dispatch. Kernels live in
// squeeze_excitation_cpu.cpp and squeeze_excitation_cuda.cu.
#include "framework/ops/squeeze_excitation.h"

#include "framework/autograd/node.h"
#include "framework/ops/squeeze_excitation_kernels.h"

namespace effnet {
namespace {

void check_operand(const Tensor& x, const Tensor& t, const Shape& shape, const char* what) {
  EFFNET_CHECK(t.defined(), "squeeze_excitation: ", what, " is undefined");
  EFFNET_CHECK(t.shape() == shape, "squeeze_excitation: ", what, " must have shape ", shape_str(shape),
               " for input ", x.str(), ", got ", t.str());
  EFFNET_CHECK(t.dtype() == x.dtype(), "squeeze_excitation: ", what, " ", t.str(), " and input ", x.str(),
               " have different dtypes");
  EFFNET_SAME_DEVICE("squeeze_excitation", x, t);
}

struct SqueezeExcitationBackward : Node {
  FusedActivation act = FusedActivation::None;
  std::vector<Tensor> apply(const Tensor& gy) override {
    Tensor x = saved(0), w_reduce = saved(1), w_expand = saved(2), pooled = saved(3), hidden = saved(4),
           gate = saved(5);
    EFFNET_CHECK(gy.shape() == x.shape() && gy.dtype() == x.dtype() && gy.device() == x.device(), name(),
                 ": gradient ", gy.str(), " does not match the input ", x.str());
    // Inputs: x, w_reduce, b_reduce, w_expand, b_expand. x's gradient is always computed (the
    // squeeze side needs the same passes); the others only where wanted.
    const Tensor* like[] = {&x, &w_reduce, nullptr, &w_expand, nullptr};
    const int64_t S = w_reduce.size(0), C = w_expand.size(0);
    std::vector<Tensor> d(5);
    for (size_t i = 0; i < d.size(); ++i) {
      if (i > 0 && !next[i]) continue;
      const Shape shape = like[i] ? like[i]->shape() : Shape{i == 2 ? S : C};
      d[i] = Tensor::empty(shape, x.dtype(), x.device());
    }
    if (x.size(0) == 0) {  // an empty batch: nothing flows anywhere
      for (Tensor& t : d)
        if (t.defined()) t.zero_();
      return d;
    }
    EFFNET_DISPATCH(x, se_backward, x, gy, w_reduce, w_expand, pooled, hidden, gate, act, d[0], d[1], d[2], d[3],
                    d[4]);
    if (!next[0]) d[0] = Tensor();
    return d;
  }
  const char* name() const override { return "SqueezeExcitationBackward"; }
};

}  // namespace

Tensor squeeze_excitation(const Tensor& x, const Tensor& w_reduce, const Tensor& b_reduce, const Tensor& w_expand,
                          const Tensor& b_expand, FusedActivation act) {
  EFFNET_CHECK(x.defined() && x.dim() == 4, "squeeze_excitation: expected a 4-D (N, C, H, W) input, got ",
               x.defined() ? x.str() : "an undefined tensor");
  EFFNET_CHECK(is_floating(x.dtype()), "squeeze_excitation: floating input expected, got ", x.str());
  EFFNET_CHECK(!x.is_cuda() || x.dtype() == DType::Float32, "squeeze_excitation: CUDA inputs must be float32, got ",
               x.str());
  EFFNET_CHECK(w_reduce.defined() && w_reduce.dim() == 4, "squeeze_excitation: w_reduce must be (S, C, 1, 1), got ",
               w_reduce.defined() ? w_reduce.str() : "an undefined tensor");
  const int64_t N = x.size(0), C = x.size(1), S = w_reduce.size(0);
  EFFNET_CHECK(x.size(2) * x.size(3) > 0, "squeeze_excitation: empty planes in ", x.str());
  check_operand(x, w_reduce, {S, C, 1, 1}, "w_reduce");
  check_operand(x, b_reduce, {S}, "b_reduce");
  check_operand(x, w_expand, {C, S, 1, 1}, "w_expand");
  check_operand(x, b_expand, {C}, "b_expand");

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor pooled = Tensor::empty({N, C}, x.dtype(), x.device());
  Tensor hidden = Tensor::empty({N, S}, x.dtype(), x.device());
  Tensor gate = Tensor::empty({N, C}, x.dtype(), x.device());
  if (N > 0) EFFNET_DISPATCH(x, se_forward, x, w_reduce, b_reduce, w_expand, b_expand, act, y, pooled, hidden, gate);
  if (autograd::needs_grad({&x, &w_reduce, &b_reduce, &w_expand, &b_expand})) {
    auto node = std::make_shared<SqueezeExcitationBackward>();
    node->act = act;
    for (const Tensor* t : std::initializer_list<const Tensor*>{&x, &w_reduce, &w_expand, &pooled, &hidden, &gate})
      node->save(*t);
    autograd::record(y, node, {&x, &w_reduce, &b_reduce, &w_expand, &b_expand});
  }
  return y;
}

}  // namespace effnet
