// Matrix products: validation, autograd nodes and dispatch. Every product, forward and backward,
// is a single GEMM whose transpose flags stand in for the transposes in the formulas, so no
// transposed copies are made. Kernels live in matmul_cpu.cpp and matmul_cuda.cu.
#include "framework/ops/matmul.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/matmul_kernels.h"
#include "framework/ops/reduce.h"

namespace effnet {
namespace {

void check_2d(const char* op, const char* role, const Tensor& t) {
  EFFNET_CHECK(t.defined(), op, ": ", role, " is an undefined tensor");
  EFFNET_CHECK(t.dim() == 2, op, ": ", role, " must be 2-D, got ", t.str());
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  EFFNET_SAME_DEVICE(op, a, b);
  EFFNET_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.str(), " and ", b.str());
  EFFNET_CHECK(is_floating(a.dtype()), op, ": floating tensors expected, got ", a.str());
}

// out = op(A) op(B) + beta * out on the tensors' device; out's shape gives M and N.
void gemm_into(bool transA, bool transB, const Tensor& A, const Tensor& B, double beta, Tensor& out) {
  const int64_t M = out.size(0), N = out.size(1), K = transA ? A.size(0) : A.size(1);
  dispatch_float(out.dtype(), "gemm", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pa = A.data<scalar_t>();
    const scalar_t* pb = B.data<scalar_t>();
    scalar_t* pc = out.data<scalar_t>();
    EFFNET_DISPATCH(out, gemm, transA, transB, M, N, K, 1.0, pa, pb, beta, pc);
  });
}

// A new (M, N) tensor holding op(A) op(B).
Tensor gemm_new(bool transA, bool transB, const Tensor& A, const Tensor& B, int64_t M, int64_t N) {
  Tensor out = Tensor::empty({M, N}, A.dtype(), A.device());
  gemm_into(transA, transB, A, B, 0.0, out);
  return out;
}

Tensor transpose_raw(const Tensor& x) {
  Tensor out = Tensor::empty({x.size(1), x.size(0)}, x.dtype(), x.device());
  EFFNET_DISPATCH(x, transpose, x, out);
  return out;
}

// c = a b: ga = g b^T needs b, gb = a^T g needs a. Each operand is saved only when the other one
// wants a gradient, so a product with a constant does not keep its activation alive.
struct MatmulBackward : Node {
  int a_slot = -1, b_slot = -1;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor ga, gb;
    if (next[0]) {
      Tensor b = saved(size_t(b_slot));
      ga = gemm_new(false, true, g, b, g.size(0), b.size(0));
    }
    if (next[1]) {
      Tensor a = saved(size_t(a_slot));
      gb = gemm_new(true, false, a, g, a.size(1), g.size(1));
    }
    return {ga, gb};
  }
  const char* name() const override { return "MatmulBackward"; }
};

struct TransposeBackward : Node {
  std::vector<Tensor> apply(const Tensor& g) override { return {transpose_raw(g)}; }
  const char* name() const override { return "TransposeBackward"; }
};

// y = x W^T + b: gx = g W needs W, gW = g^T x needs x, gb = column sums of g.
struct LinearBackward : Node {
  int x_slot = -1, w_slot = -1;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor gx, gw, gb;
    if (next[0]) {
      Tensor w = saved(size_t(w_slot));
      gx = gemm_new(false, false, g, w, g.size(0), w.size(1));
    }
    if (next[1]) {
      Tensor x = saved(size_t(x_slot));
      gw = gemm_new(true, false, g, x, g.size(1), x.size(1));
    }
    if (next[2]) gb = sum(g, {0});
    return {gx, gw, gb};
  }
  const char* name() const override { return "LinearBackward"; }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_2d("matmul", "first operand", a);
  check_2d("matmul", "second operand", b);
  check_operands("matmul", a, b);
  EFFNET_CHECK(a.size(1) == b.size(0), "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
               " cannot be multiplied (", a.size(1), " columns vs ", b.size(0), " rows)");
  Tensor out = gemm_new(false, false, a, b, a.size(0), b.size(1));
  if (autograd::needs_grad(a, b)) {
    auto node = std::make_shared<MatmulBackward>();
    if (b.requires_grad()) node->a_slot = int(node->save(a));
    if (a.requires_grad()) node->b_slot = int(node->save(b));
    autograd::record(out, node, a, b);
  }
  return out;
}

Tensor transpose(const Tensor& x) {
  check_2d("transpose", "input", x);
  EFFNET_CHECK(is_floating(x.dtype()), "transpose: floating tensor expected, got ", x.str());
  Tensor out = transpose_raw(x);
  if (autograd::needs_grad(x)) autograd::record(out, std::make_shared<TransposeBackward>(), x);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_2d("linear", "input", x);
  check_2d("linear", "weight", weight);
  check_operands("linear", x, weight);
  EFFNET_CHECK(x.size(1) == weight.size(1), "linear: input ", shape_str(x.shape()), " does not fit weight ",
               shape_str(weight.shape()), " (", x.size(1), " input features vs ", weight.size(1),
               "; weight is (out_features, in_features))");
  const int64_t rows = x.size(0), features = weight.size(0);
  Tensor out = Tensor::empty({rows, features}, x.dtype(), x.device());
  if (bias.defined()) {
    check_operands("linear", x, bias);
    EFFNET_CHECK(bias.dim() == 1 && bias.size(0) == features, "linear: bias ", shape_str(bias.shape()),
                 " does not fit weight ", shape_str(weight.shape()), " (expected [", features, "])");
    // Bias first, then the GEMM accumulates onto it (beta = 1): one pass over the output fewer
    // than adding the bias afterwards.
    EFFNET_DISPATCH(x, fill_rows, bias, out);
    gemm_into(false, true, x, weight, 1.0, out);
  } else {
    gemm_into(false, true, x, weight, 0.0, out);
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<LinearBackward>();
    if (weight.requires_grad()) node->x_slot = int(node->save(x));
    if (x.requires_grad()) node->w_slot = int(node->save(weight));
    autograd::record(out, node, {&x, &weight, &bias});
  }
  return out;
}

}  // namespace effnet
