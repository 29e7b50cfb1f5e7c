// CPU kernels of the unary family, the readable reference for the CUDA half: one forward and one
// backward loop template, instantiated per op so that the per-element switch is resolved at
// compile time. float sigmoid and silu use the branch-free exp of cpu_vec.h so that their loops
// vectorise (libm's expf is a scalar call); double keeps std::exp as the reference. The loops run
// through parallel_for (threads, and the AVX2 copy where the CPU has it).
#include <cmath>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"
#include "framework/ops/unary_kernels.h"

namespace effnet::cpu {
namespace {

// Evaluates whichever exponential cannot overflow: e^-x for x >= 0, e^x for x < 0.
template <class T>
EFFNET_INLINE inline T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
EFFNET_INLINE inline float stable_sigmoid(float x) { return vec::sigmoid(x); }

// Comparisons are written so that NaN falls through to the "pass x" branch and propagates.
template <class T, UnaryOp OP>
EFFNET_INLINE inline T forward_one(T x, T a, T b) {
  if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Pow) return std::pow(x, a);
  else if constexpr (OP == UnaryOp::Clamp) return x < a ? a : (x > b ? b : x);
  else if constexpr (OP == UnaryOp::Sigmoid) return stable_sigmoid(x);
  else if constexpr (OP == UnaryOp::Relu) return x < T(0) ? T(0) : x;
  else if constexpr (OP == UnaryOp::Relu6) return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
  else return x * stable_sigmoid(x);  // Silu
}

// g · f'(.), where s is the output y for Exp, Sqrt, Sigmoid, Relu, Relu6 and the input x otherwise
// (unary_backward_reads_output).
template <class T, UnaryOp OP>
EFFNET_INLINE inline T backward_one(T g, T s, T a, T b) {
  if constexpr (OP == UnaryOp::Exp) return g * s;
  else if constexpr (OP == UnaryOp::Log) return g / s;
  else if constexpr (OP == UnaryOp::Sqrt) return g / (T(2) * s);
  else if constexpr (OP == UnaryOp::Pow) return a == T(0) ? T(0) : g * a * std::pow(s, a - T(1));
  else if constexpr (OP == UnaryOp::Clamp) return (s >= a && s <= b) ? g : T(0);
  else if constexpr (OP == UnaryOp::Sigmoid) return g * s * (T(1) - s);
  else if constexpr (OP == UnaryOp::Relu) return s > T(0) ? g : T(0);
  else if constexpr (OP == UnaryOp::Relu6) return (s > T(0) && s < T(6)) ? g : T(0);
  else {  // Silu: d/dx x·σ(x) = σ(x)·(1 + x·(1 - σ(x))), σ recomputed rather than saved
    T sg = stable_sigmoid(s);
    return g * sg * (T(1) + s * (T(1) - sg));
  }
}

template <class T, UnaryOp OP>
void forward_loop(const T* x, T* out, int64_t n, T a, T b) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) out[i] = forward_one<T, OP>(x[i], a, b);
  });
}

template <class T, UnaryOp OP>
void backward_loop(const T* g, const T* s, T* dx, int64_t n, T a, T b) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) dx[i] = backward_one<T, OP>(g[i], s[i], a, b);
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
