// Element-wise unary functions: validation, the one autograd node they share and dispatch.
// Kernels live in unary_cpu.cpp and unary_cuda.cu.
#include "framework/ops/unary.h"

#include <cmath>

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/unary_kernels.h"

namespace effnet {
namespace {

const char* op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Pow: return "pow";
    case UnaryOp::Clamp: return "clamp";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Relu6: return "relu6";
    case UnaryOp::Silu: return "silu";
  }
  return "unary";
}

const char* backward_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: return "ExpBackward";
    case UnaryOp::Log: return "LogBackward";
    case UnaryOp::Sqrt: return "SqrtBackward";
    case UnaryOp::Pow: return "PowBackward";
    case UnaryOp::Clamp: return "ClampBackward";
    case UnaryOp::Sigmoid: return "SigmoidBackward";
    case UnaryOp::Relu: return "ReluBackward";
    case UnaryOp::Relu6: return "Relu6Backward";
    case UnaryOp::Silu: return "SiluBackward";
  }
  return "UnaryBackward";
}

// One node type for the family: the op and its scalars select the backward kernel, and the one
// saved tensor is the input or the output (unary_backward_reads_output).
struct UnaryBackward : Node {
  UnaryOp op = UnaryOp::Exp;
  UnaryArgs args;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor s = saved(0);
    Tensor dx = autograd::empty_grad_like(*this, g, s, "the saved tensor");
    EFFNET_DISPATCH(s, unary_backward, op, args, g, s, dx);
    return {dx};
  }
  const char* name() const override { return backward_name(op); }
};

Tensor run_unary(UnaryOp op, const UnaryArgs& args, const Tensor& x) {
  const char* name = op_name(op);
  EFFNET_CHECK(is_floating(x.dtype()), name, ": floating tensor expected, got ", x.str());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  EFFNET_DISPATCH(x, unary, op, args, x, out);
  if (autograd::needs_grad(x)) {
    auto node = std::make_shared<UnaryBackward>();
    node->op = op;
    node->args = args;
    node->save(unary_backward_reads_output(op) ? out : x);
    autograd::record(out, node, x);
  }
  return out;
}

}  // namespace

Tensor exp(const Tensor& x) { return run_unary(UnaryOp::Exp, {}, x); }
Tensor log(const Tensor& x) { return run_unary(UnaryOp::Log, {}, x); }
Tensor sqrt(const Tensor& x) { return run_unary(UnaryOp::Sqrt, {}, x); }

Tensor pow(const Tensor& x, double p) { return run_unary(UnaryOp::Pow, {p, 0.0}, x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  // An inverted range would silently give hi everywhere; a NaN bound would make every
  // comparison false. Both are caller bugs.
  EFFNET_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, "clamp: need lo <= hi, got lo = ", lo,
               ", hi = ", hi, " for ", x.str());
  return run_unary(UnaryOp::Clamp, {lo, hi}, x);
}

Tensor sigmoid(const Tensor& x) { return run_unary(UnaryOp::Sigmoid, {}, x); }
Tensor relu(const Tensor& x) { return run_unary(UnaryOp::Relu, {}, x); }
Tensor relu6(const Tensor& x) { return run_unary(UnaryOp::Relu6, {}, x); }
Tensor silu(const Tensor& x) { return run_unary(UnaryOp::Silu, {}, x); }

Tensor apply_activation(const Tensor& y, FusedActivation a) {
  switch (a) {
    case FusedActivation::Silu: return silu(y);
    case FusedActivation::Relu6: return relu6(y);
    case FusedActivation::Relu: return relu(y);
    case FusedActivation::Sigmoid: return sigmoid(y);
    case FusedActivation::None: break;
  }
  return y;
}

}  // namespace effnet
