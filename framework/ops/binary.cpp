// Element-wise arithmetic: validation, autograd nodes and dispatch. Kernels live in
// binary_cpu.cpp and binary_cuda.cu.
#include "framework/ops/binary.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/binary_kernels.h"
#include "framework/ops/reduce.h"

namespace effnet {

// ---- broadcasting ---------------------------------------------------------------------------------
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EFFNET_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                 " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

BroadcastPlan plan_broadcast(const char* op, const Shape& a, const Shape& b) {
  BroadcastPlan p;
  p.out_shape = broadcast_shapes(op, a, b);
  p.same_shape = a == b;
  p.ndim = int(p.out_shape.size());
  EFFNET_CHECK(p.ndim <= kMaxDims, op, ": at most ", kMaxDims, " dimensions, got ", shape_str(p.out_shape));
  auto strides = [&](const Shape& s, std::array<int64_t, kMaxDims>& st) {
    int64_t stride = 1;
    for (int i = p.ndim - 1; i >= 0; --i) {
      int si = i - (p.ndim - int(s.size()));
      int64_t d = si >= 0 ? s[size_t(si)] : 1;
      st[size_t(i)] = d == 1 ? 0 : stride;
      stride *= d;
    }
  };
  for (int i = 0; i < p.ndim; ++i) p.out_sizes[size_t(i)] = p.out_shape[size_t(i)];
  strides(a, p.a_strides);
  strides(b, p.b_strides);
  return p;
}

namespace {

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  EFFNET_SAME_DEVICE(op, a, b);
  EFFNET_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.str(), " and ", b.str());
  EFFNET_CHECK(is_floating(a.dtype()), op, ": floating tensors expected, got ", a.str());
}

Tensor run_binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_operands(name, a, b);
  BroadcastPlan plan = plan_broadcast(name, a.shape(), b.shape());
  Tensor out = Tensor::empty(plan.out_shape, a.dtype(), a.device());
  EFFNET_DISPATCH(a, binary, op, plan, a, b, out);
  return out;
}

// Backward nodes. Each input's gradient is summed back over the dimensions it was broadcast along,
// so every node of a binary op keeps both input shapes; mul and div also save the operands.
struct BinaryBackward : Node {
  static constexpr bool kSavesOperands = false;
  Shape a_shape, b_shape;
};

template <bool kSubtract>
struct AddBackward : BinaryBackward {
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor ga = next[0] ? sum_to(g, a_shape) : Tensor();
    Tensor gb;
    if (next[1]) gb = kSubtract ? neg(sum_to(g, b_shape)) : sum_to(g, b_shape);
    return {ga, gb};
  }
  const char* name() const override { return kSubtract ? "SubBackward" : "AddBackward"; }
};

struct MulBackward : BinaryBackward {
  static constexpr bool kSavesOperands = true;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor a = saved(0), b = saved(1);
    return {next[0] ? sum_to(mul(g, b), a_shape) : Tensor(), next[1] ? sum_to(mul(g, a), b_shape) : Tensor()};
  }
  const char* name() const override { return "MulBackward"; }
};

struct DivBackward : BinaryBackward {
  static constexpr bool kSavesOperands = true;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor a = saved(0), b = saved(1);
    Tensor g_over_b = div(g, b);
    Tensor ga = next[0] ? sum_to(g_over_b, a_shape) : Tensor();
    // d(a/b)/db = -a / b^2
    Tensor gb = next[1] ? neg(sum_to(div(mul(g_over_b, a), b), b_shape)) : Tensor();
    return {ga, gb};
  }
  const char* name() const override { return "DivBackward"; }
};

struct AffineBackward : Node {
  explicit AffineBackward(double scale) : scale(scale) {}
  double scale;
  std::vector<Tensor> apply(const Tensor& g) override { return {scale == 1.0 ? g : affine(g, scale, 0.0)}; }
  const char* name() const override { return "AffineBackward"; }
};

struct BroadcastToBackward : Node {
  explicit BroadcastToBackward(Shape input_shape) : input_shape(std::move(input_shape)) {}
  Shape input_shape;
  std::vector<Tensor> apply(const Tensor& g) override { return {sum_to(g, input_shape)}; }
  const char* name() const override { return "BroadcastToBackward"; }
};

// add, sub, mul and div: the op, then its Backward node where a gradient is needed.
template <class Backward>
Tensor binary_op(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor out = run_binary(op, name, a, b);
  if (autograd::needs_grad(a, b)) {
    auto node = std::make_shared<Backward>();
    node->a_shape = a.shape();
    node->b_shape = b.shape();
    if constexpr (Backward::kSavesOperands) {
      node->save(a);
      node->save(b);
    }
    autograd::record(out, node, a, b);
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op<AddBackward<false>>(BinaryOp::Add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op<AddBackward<true>>(BinaryOp::Sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op<MulBackward>(BinaryOp::Mul, "mul", a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op<DivBackward>(BinaryOp::Div, "div", a, b); }

Tensor affine(const Tensor& x, double scale, double shift) {
  EFFNET_CHECK(is_floating(x.dtype()), "affine/scalar arithmetic: floating tensor expected, got ", x.str());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  EFFNET_DISPATCH(x, affine, x, scale, shift, out);
  if (autograd::needs_grad(x)) autograd::record(out, std::make_shared<AffineBackward>(scale), x);
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Shape got = broadcast_shapes("broadcast_to", x.shape(), shape);
  EFFNET_CHECK(got == shape, "broadcast_to: ", x.str(), " cannot be stretched to ", shape_str(shape));
  if (x.shape() == shape) return x;
  BroadcastPlan plan = plan_broadcast("broadcast_to", shape, x.shape());
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  // BinaryOp::Right copies operand b (x) through the plan; operand a is only a shape donor.
  EFFNET_DISPATCH(x, binary, BinaryOp::Right, plan, out, x, out);
  if (autograd::needs_grad(x)) autograd::record(out, std::make_shared<BroadcastToBackward>(x.shape()), x);
  return out;
}

}  // namespace effnet
