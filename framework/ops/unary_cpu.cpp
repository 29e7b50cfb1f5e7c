// CPU kernels of the unary family: one forward and one backward loop template over the shared
// formulas of unary_kernels.h, instantiated per op so that the per-element switch is resolved at
// compile time. The loops run through parallel_for (threads, and the AVX2 copy where the CPU has
// it).
#include "framework/core/cpu_parallel.h"
#include "framework/ops/unary_kernels.h"

namespace effnet::cpu {
namespace {

template <class T, UnaryOp OP>
void forward_loop(const T* x, T* out, int64_t n, T a, T b) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) out[i] = unary_forward<T, OP>(x[i], a, b);
  });
}

template <class T, UnaryOp OP>
void backward_loop(const T* g, const T* s, T* dx, int64_t n, T a, T b) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) dx[i] = unary_backward_element<T, OP>(g[i], s[i], a, b);
  });
}

}  // namespace

void unary(UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      forward_loop<scalar_t, decltype(op_tag)::value>(x.data<scalar_t>(), out.data<scalar_t>(), x.numel(),
                                                      scalar_t(args.a), scalar_t(args.b));
    });
  });
}

void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx) {
  dispatch_float(saved.dtype(), "unary backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      backward_loop<scalar_t, decltype(op_tag)::value>(g.data<scalar_t>(), saved.data<scalar_t>(),
                                                       dx.data<scalar_t>(), saved.numel(), scalar_t(args.a),
                                                       scalar_t(args.b));
    });
  });
}

}  // namespace effnet::cpu
