// CUDA kernels of the unary family: one grid-stride forward kernel and one backward kernel, each
// a template over (dtype, op), so every op is a single memory-bound pass. Formulas mirror
// unary_cpu.cpp; float uses the single-precision math functions (expf, not exp) throughout.
#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/unary_kernels.h"

namespace effnet::cuda_ops {
namespace {

__device__ __forceinline__ float dev_exp(float x) { return ::expf(x); }
__device__ __forceinline__ double dev_exp(double x) { return ::exp(x); }
__device__ __forceinline__ float dev_log(float x) { return ::logf(x); }
__device__ __forceinline__ double dev_log(double x) { return ::log(x); }
__device__ __forceinline__ float dev_sqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double dev_sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float dev_pow(float x, float p) { return ::powf(x, p); }
__device__ __forceinline__ double dev_pow(double x, double p) { return ::pow(x, p); }

// Evaluates whichever exponential cannot overflow: e^-x for x >= 0, e^x for x < 0.
template <class T>
__device__ __forceinline__ T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + dev_exp(-x));
  T e = dev_exp(x);
  return e / (T(1) + e);
}

// Comparisons are written so that NaN falls through to the "pass x" branch and propagates.
template <class T, UnaryOp OP>
__device__ __forceinline__ T forward_one(T x, T a, T b) {
  if constexpr (OP == UnaryOp::Exp) return dev_exp(x);
  else if constexpr (OP == UnaryOp::Log) return dev_log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return dev_sqrt(x);
  else if constexpr (OP == UnaryOp::Pow) return dev_pow(x, a);
  else if constexpr (OP == UnaryOp::Clamp) return x < a ? a : (x > b ? b : x);
  else if constexpr (OP == UnaryOp::Sigmoid) return stable_sigmoid(x);
  else if constexpr (OP == UnaryOp::Relu) return x < T(0) ? T(0) : x;
  else if constexpr (OP == UnaryOp::Relu6) return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
  else return x * stable_sigmoid(x);  // Silu
}

// g · f'(.), where s is the output y for Exp, Sqrt, Sigmoid, Relu, Relu6 and the input x otherwise.
template <class T, UnaryOp OP>
__device__ __forceinline__ T backward_one(T g, T s, T a, T b) {
  if constexpr (OP == UnaryOp::Exp) return g * s;
  else if constexpr (OP == UnaryOp::Log) return g / s;
  else if constexpr (OP == UnaryOp::Sqrt) return g / (T(2) * s);
  else if constexpr (OP == UnaryOp::Pow) return a == T(0) ? T(0) : g * a * dev_pow(s, a - T(1));
  else if constexpr (OP == UnaryOp::Clamp) return (s >= a && s <= b) ? g : T(0);
  else if constexpr (OP == UnaryOp::Sigmoid) return g * s * (T(1) - s);
  else if constexpr (OP == UnaryOp::Relu) return s > T(0) ? g : T(0);
  else if constexpr (OP == UnaryOp::Relu6) return (s > T(0) && s < T(6)) ? g : T(0);
  else {  // Silu: σ recomputed from the saved input rather than stored by the forward pass
    T sg = stable_sigmoid(s);
    return g * sg * (T(1) + s * (T(1) - sg));
  }
}

template <class T, UnaryOp OP>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, T a, T b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    out[i] = forward_one<T, OP>(x[i], a, b);
}

template <class T, UnaryOp OP>
__global__ void unary_backward_kernel(const T* __restrict__ g, const T* __restrict__ s, T* __restrict__ dx,
                                      int64_t n, T a, T b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    dx[i] = backward_one<T, OP>(g[i], s[i], a, b);
}

}  // namespace

void unary(UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out) {
  int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), "unary", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      unary_kernel<scalar_t, decltype(op_tag)::value><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
          x.data<scalar_t>(), out.data<scalar_t>(), n, scalar_t(args.a), scalar_t(args.b));
      CUDA_CHECK_LAUNCH();
    });
  });
}

void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx) {
  int64_t n = saved.numel();
  if (n == 0) return;
  dispatch_float(saved.dtype(), "unary backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    dispatch_unary(op, [&](auto op_tag) {
      unary_backward_kernel<scalar_t, decltype(op_tag)::value><<<cuda::grid_for(n), 256, 0, cuda::stream()>>>(
          g.data<scalar_t>(), saved.data<scalar_t>(), dx.data<scalar_t>(), n, scalar_t(args.a), scalar_t(args.b));
      CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace effnet::cuda_ops
