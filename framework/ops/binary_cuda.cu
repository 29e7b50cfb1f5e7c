// CUDA kernels of the binary family: a flat kernel when shapes match, otherwise a broadcast
// kernel that unravels each output index against per-input strides (0 along stretched dims).
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/binary_kernels.h"

namespace effnet::cuda_ops {
namespace {

struct Strides {
  int ndim;
  int64_t sizes[kMaxDims], a[kMaxDims], b[kMaxDims];
};

template <class T, BinaryOp OP>
__device__ __forceinline__ T apply_op(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else if constexpr (OP == BinaryOp::Div) return a / b;
  else return b;
}

template <class T, BinaryOp OP>
__global__ void same_shape_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    out[i] = apply_op<T, OP>(a[i], b[i]);
}

template <class T, BinaryOp OP>
__global__ void broadcast_kernel(const T* a, const T* b, T* out, int64_t n, Strides st) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    int64_t rem = i, ao = 0, bo = 0;
    for (int d = st.ndim - 1; d >= 0; --d) {
      int64_t idx = rem % st.sizes[d];
      rem /= st.sizes[d];
      ao += idx * st.a[d];
      bo += idx * st.b[d];
    }
    out[i] = apply_op<T, OP>(a[ao], b[bo]);
  }
}

template <class T>
__global__ void affine_kernel(const T* x, T* out, int64_t n, T scale, T shift) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    out[i] = x[i] * scale + shift;
}

template <class T, BinaryOp OP>
void launch_binary(const BroadcastPlan& p, const T* a, const T* b, T* out) {
  int64_t n = shape_numel(p.out_shape);
  if (n == 0) return;
  if (p.same_shape) {
    same_shape_kernel<T, OP><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(a, b, out, n);
  } else {
    Strides st{};
    st.ndim = p.ndim;
    for (int d = 0; d < p.ndim; ++d) {
      st.sizes[d] = p.out_sizes[size_t(d)];
      st.a[d] = p.a_strides[size_t(d)];
      st.b[d] = p.b_strides[size_t(d)];
    }
    broadcast_kernel<T, OP><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(a, b, out, n, st);
  }
  CUDA_CHECK_LAUNCH();
}

template <class T>
void binary_typed(BinaryOp op, const BroadcastPlan& p, const T* a, const T* b, T* out) {
  switch (op) {
    case BinaryOp::Add: launch_binary<T, BinaryOp::Add>(p, a, b, out); break;
    case BinaryOp::Sub: launch_binary<T, BinaryOp::Sub>(p, a, b, out); break;
    case BinaryOp::Mul: launch_binary<T, BinaryOp::Mul>(p, a, b, out); break;
    case BinaryOp::Div: launch_binary<T, BinaryOp::Div>(p, a, b, out); break;
    case BinaryOp::Right: launch_binary<T, BinaryOp::Right>(p, a, b, out); break;
  }
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
  if (n == 0) return;
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using scalar_t = decltype(tag);
    affine_kernel<scalar_t><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
        x.data<scalar_t>(), out.data<scalar_t>(), n, scalar_t(scale), scalar_t(shift));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace effnet::cuda_ops
