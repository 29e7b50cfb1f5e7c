// CPU kernels of the binary family. The broadcast loop walks the output in row-major order with
// an odometer over the outer dimensions and a tight inner loop over the last one.
#include "framework/ops/binary_kernels.h"

namespace effnet::cpu {
namespace {

template <class T>
inline T apply_op(BinaryOp op, T a, T b) {
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
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) out[i] = apply_op(OP, a[i], b[i]);
}

template <class T, BinaryOp OP>
void binary_broadcast(const BroadcastPlan& p, const T* a, const T* b, T* out) {
  const int nd = p.ndim;
  const int64_t inner = nd ? p.out_sizes[size_t(nd - 1)] : 1;
  const int64_t as = nd ? p.a_strides[size_t(nd - 1)] : 0, bs = nd ? p.b_strides[size_t(nd - 1)] : 0;
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= p.out_sizes[size_t(d)];
#pragma omp parallel for if (outer * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    // Offsets of row o in a and b: unravel o over the outer dimensions.
    int64_t rem = o, ao = 0, bo = 0;
    for (int d = nd - 2; d >= 0; --d) {
      int64_t idx = rem % p.out_sizes[size_t(d)];
      rem /= p.out_sizes[size_t(d)];
      ao += idx * p.a_strides[size_t(d)];
      bo += idx * p.b_strides[size_t(d)];
    }
    T* row = out + o * inner;
    for (int64_t i = 0; i < inner; ++i) row[i] = apply_op(OP, a[ao + i * as], b[bo + i * bs]);
  }
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
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) po[i] = px[i] * s + t;
  });
}

void axpy_(Tensor& y, const Tensor& x, double alpha) {
  int64_t n = y.numel();
  dispatch_float(y.dtype(), "add_", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    const scalar_t a = scalar_t(alpha);
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) py[i] += a * px[i];
  });
}

}  // namespace effnet::cpu
