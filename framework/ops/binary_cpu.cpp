// CPU kernels of the binary family. The broadcast loop walks the output in row-major order with
// an odometer over the outer dimensions and a tight inner loop over the last one, after merging
// the dimensions that need no odometer of their own.
#include <algorithm>
#include <array>

#include "framework/ops/binary_kernels.h"
#include "framework/core/cpu_parallel.h"

namespace effnet::cpu {
namespace {

template <class T>
EFFNET_INLINE inline T apply_op(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Right: return b;
  }
  return T(0);
}

template <class T, BinaryOp OP>
void binary_same_shape(const T* a, const T* b, T* out, int64_t n) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) out[i] = apply_op(OP, a[i], b[i]);
  });
}

// The plan with size-1 dimensions dropped and adjacent dimensions merged wherever both operands
// step through them as through one (strides nest, or both are broadcast), so that e.g. the
// squeeze-excitation product (N,C,H,W) * (N,C,1,1) runs as N·C rows of H·W times a constant
// instead of N·C·H rows of W with an index computation per row.
struct Collapsed {
  int ndim = 0;
  std::array<int64_t, kMaxDims> sizes{}, a_strides{}, b_strides{};
};
Collapsed collapse(const BroadcastPlan& p) {
  Collapsed r;
  for (int d = 0; d < p.ndim; ++d) {
    const size_t i = size_t(d);
    const int64_t n = p.out_sizes[i], as = p.a_strides[i], bs = p.b_strides[i];
    if (n == 1) continue;
    if (r.ndim > 0) {
      const size_t k = size_t(r.ndim - 1);
      if (r.a_strides[k] == as * n && r.b_strides[k] == bs * n) {
        r.sizes[k] *= n;
        r.a_strides[k] = as;
        r.b_strides[k] = bs;
        continue;
      }
    }
    const size_t k = size_t(r.ndim++);
    r.sizes[k] = n, r.a_strides[k] = as, r.b_strides[k] = bs;
  }
  return r;
}

// One output row; the common stride patterns get loops of their own so that they vectorise.
template <class T, BinaryOp OP>
EFFNET_INLINE inline void binary_row(const T* a, int64_t as, const T* b, int64_t bs, T* out, int64_t n) {
  if (as == 1 && bs == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = apply_op(OP, a[i], b[i]);
  } else if (as == 1 && bs == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = apply_op(OP, a[i], bv);
  } else if (as == 0 && bs == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = apply_op(OP, av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = apply_op(OP, a[i * as], b[i * bs]);
  }
}

template <class T, BinaryOp OP>
void binary_broadcast(const BroadcastPlan& plan, const T* a, const T* b, T* out) {
  const Collapsed p = collapse(plan);
  const int nd = p.ndim;
  const size_t last = size_t(std::max(nd - 1, 0));
  const int64_t inner = nd ? p.sizes[last] : 1;
  const int64_t as = nd ? p.a_strides[last] : 0, bs = nd ? p.b_strides[last] : 0;
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= p.sizes[size_t(d)];
  parallel_for(outer, std::max<int64_t>(1, 32768 / inner), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t o = lo; o < hi; ++o) {
      // Offsets of row o in a and b: unravel o over the outer dimensions.
      int64_t rem = o, ao = 0, bo = 0;
      for (int d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % p.sizes[size_t(d)];
        rem /= p.sizes[size_t(d)];
        ao += idx * p.a_strides[size_t(d)];
        bo += idx * p.b_strides[size_t(d)];
      }
      binary_row<T, OP>(a + ao, as, b + bo, bs, out + o * inner, inner);
    }
  });
}

template <class T>
void binary_typed(BinaryOp op, const BroadcastPlan& p, const T* a, const T* b, T* out) {
  int64_t n = shape_numel(p.out_shape);
#define EFFNET_BINARY_CASE(OP)                                       \
  case OP:                                                           \
    if (p.same_shape) binary_same_shape<T, OP>(a, b, out, n);        \
    else binary_broadcast<T, OP>(p, a, b, out);                      \
    break;
  switch (op) {
    EFFNET_BINARY_CASE(BinaryOp::Add)
    EFFNET_BINARY_CASE(BinaryOp::Sub)
    EFFNET_BINARY_CASE(BinaryOp::Mul)
    EFFNET_BINARY_CASE(BinaryOp::Div)
    EFFNET_BINARY_CASE(BinaryOp::Right)
  }
#undef EFFNET_BINARY_CASE
}

}  // namespace

void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(out.dtype(), "binary", [&](auto tag) {
    using scalar_t = decltype(tag);
    binary_typed<scalar_t>(op, plan, a.data<scalar_t>(), b.data<scalar_t>(), out.data<scalar_t>());
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  int64_t n = x.numel();
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const scalar_t s = scalar_t(scale), t = scalar_t(shift);
    parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) po[i] = px[i] * s + t;
    });
  });
}

}  // namespace effnet::cpu
