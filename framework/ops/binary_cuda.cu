// CUDA kernels of the binary family: element functors over the formulas of binary_kernels.h, run
// by cuda::for_each. Equal shapes take the flat functor; otherwise each output index is
// unravelled against the collapsed broadcast plan the CPU walks too (strides 0 along stretched
// dimensions).
#include <type_traits>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/binary_kernels.h"

namespace effnet::cuda_ops {
namespace {

// No __restrict__: broadcast_to passes the output as operand a (a shape donor that is never read).
template <class T, BinaryOp OP>
struct SameShape {
  const T *a, *b;
  T* out;
  __device__ void operator()(int64_t i) const { out[i] = binary_element<T, OP>(a[i], b[i]); }
};

template <class T, BinaryOp OP>
struct Broadcast {
  const T *a, *b;
  T* out;
  CollapsedBroadcast plan;
  __device__ void operator()(int64_t i) const {
    int64_t ao, bo;
    broadcast_offsets(plan, plan.ndim, i, ao, bo);
    out[i] = binary_element<T, OP>(a[ao], b[bo]);
  }
};

template <class T>
struct Affine {
  const T* x;
  T* out;
  T scale, shift;
  __device__ void operator()(int64_t i) const { out[i] = affine_element(x[i], scale, shift); }
};

}  // namespace

void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = shape_numel(plan.out_shape);
  dispatch_binary_operands(op, a, b, out, [&](auto op_tag, const auto* pa, const auto* pb, auto* po) {
    using T = std::remove_pointer_t<decltype(po)>;
    constexpr BinaryOp OP = decltype(op_tag)::value;
    if (plan.same_shape) cuda::for_each(n, SameShape<T, OP>{pa, pb, po});
    else cuda::for_each(n, Broadcast<T, OP>{pa, pb, po, collapse_broadcast(plan)});
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(x.numel(), Affine<scalar_t>{x.data<scalar_t>(), out.data<scalar_t>(), scalar_t(scale),
                                                scalar_t(shift)});
  });
}

}  // namespace effnet::cuda_ops
