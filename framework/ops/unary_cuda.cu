// CUDA kernels of the unary family: one element functor per direction, a template over (dtype,
// op) calling the formulas of unary_kernels.h that the CPU loops call, so every op is a single
// memory-bound pass of cuda::for_each.
#include "framework/core/cuda_launch.cuh"
#include "framework/ops/unary_kernels.h"

namespace effnet::cuda_ops {
namespace {

template <class T, UnaryOp OP>
struct UnaryForward {
  const T* x;
  T* out;
  T a, b;
  __device__ void operator()(int64_t i) const { out[i] = unary_forward<T, OP>(x[i], a, b); }
};

template <class T, UnaryOp OP>
struct UnaryBackward {
  const T *g, *s;
  T* dx;
  T a, b;
  __device__ void operator()(int64_t i) const { dx[i] = unary_backward_element<T, OP>(g[i], s[i], a, b); }
};

}  // namespace

void unary(UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      cuda::for_each(x.numel(), UnaryForward<scalar_t, decltype(op_tag)::value>{
                                    x.data<scalar_t>(), out.data<scalar_t>(), scalar_t(args.a), scalar_t(args.b)});
    });
  });
}

void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx) {
  dispatch_float(saved.dtype(), "unary backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      cuda::for_each(saved.numel(), UnaryBackward<scalar_t, decltype(op_tag)::value>{
                                        g.data<scalar_t>(), saved.data<scalar_t>(), dx.data<scalar_t>(),
                                        scalar_t(args.a), scalar_t(args.b)});
    });
  });
}

}  // namespace effnet::cuda_ops
