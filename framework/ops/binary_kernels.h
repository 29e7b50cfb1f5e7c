// Backend entry points of the binary family (binary_cpu.cpp, binary_cuda.cu), the per-element
// formulas both halves call, and the broadcast walk they share: the plan with its dimensions
// merged (collapse_broadcast), and the offsets of an element of it (broadcast_offsets).
#pragma once

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"
#include "framework/ops/broadcast.h"

namespace effnet {

enum class BinaryOp { Add, Sub, Mul, Div, Right /* out = b: broadcast copy */ };

// Calls f(std::integral_constant<BinaryOp, op>{}) (backend.h's dispatch_enum over every op).
template <class F>
void dispatch_binary(BinaryOp op, F&& f) {
  using O = BinaryOp;
  dispatch_enum<O::Add, O::Sub, O::Mul, O::Div, O::Right>(op, f);
}

// The dispatch both halves' binary() start with: f(op_tag, pa, pb, po), the op as
// dispatch_binary's tag and the operands and output typed by the output's float dtype.
template <class F>
void dispatch_binary_operands(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, F&& f) {
  dispatch_float(out.dtype(), "binary", [&](auto tag) {
    using T = decltype(tag);
    dispatch_binary(op, [&](auto op_tag) { f(op_tag, a.data<T>(), b.data<T>(), out.data<T>()); });
  });
}

template <class T, BinaryOp OP>
EFFNET_HD T binary_element(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else if constexpr (OP == BinaryOp::Div) return a / b;
  else return b;
}

// out = x * scale + shift.
template <class T>
EFFNET_HD T affine_element(T x, T scale, T shift) {
  return x * scale + shift;
}

// A BroadcastPlan with size-1 dimensions dropped and adjacent dimensions merged wherever both
// operands step through them as through one (strides nest, or both are broadcast), so that e.g.
// the squeeze-excitation product (N,C,H,W) * (N,C,1,1) is N·C rows of H·W times a constant
// instead of N·C·H rows of W with an index computation per row. Plain arrays: a CUDA kernel
// takes it by value.
struct CollapsedBroadcast {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {}, a_strides[kMaxDims] = {}, b_strides[kMaxDims] = {};
};

inline CollapsedBroadcast collapse_broadcast(const BroadcastPlan& p) {
  CollapsedBroadcast r;
  for (int d = 0; d < p.ndim; ++d) {
    const size_t i = size_t(d);
    const int64_t n = p.out_sizes[i], as = p.a_strides[i], bs = p.b_strides[i];
    if (n == 1) continue;
    if (r.ndim > 0) {
      const int k = r.ndim - 1;
      if (r.a_strides[k] == as * n && r.b_strides[k] == bs * n) {
        r.sizes[k] *= n;
        r.a_strides[k] = as;
        r.b_strides[k] = bs;
        continue;
      }
    }
    const int k = r.ndim++;
    r.sizes[k] = n, r.a_strides[k] = as, r.b_strides[k] = bs;
  }
  return r;
}

// Element offsets (ao, bo) into a and b of the element with row-major index `index` over the
// first `ndim` dimensions of p: the CPU unravels its rows over all dimensions but the last, the
// CUDA kernel each element over all of them.
EFFNET_HD void broadcast_offsets(const CollapsedBroadcast& p, int ndim, int64_t index, int64_t& ao, int64_t& bo) {
  int64_t rem = index;
  ao = 0, bo = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t idx = rem % p.sizes[d];
    rem /= p.sizes[d];
    ao += idx * p.a_strides[d];
    bo += idx * p.b_strides[d];
  }
}

#define EFFNET_BINARY_BACKEND(X)                                                                            \
  X(void, binary, (BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out)) \
  X(void, affine, (const Tensor& x, double scale, double shift, Tensor& out))
EFFNET_DECLARE_BACKENDS(EFFNET_BINARY_BACKEND)

}  // namespace effnet
