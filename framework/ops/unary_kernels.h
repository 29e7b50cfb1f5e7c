// Backend entry points of the unary family (unary_cpu.cpp, unary_cuda.cu): one forward and one
// backward entry, each fanning out over UnaryOp to a loop or kernel instantiated per op, and the
// per-element formulas both halves call.
#pragma once

#include <cmath>
#include <type_traits>

#include "framework/core/backend.h"
#include "framework/core/hd_math.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"
#include "framework/ops/unary.h"

namespace effnet {

enum class UnaryOp { Exp, Log, Sqrt, Pow, Clamp, Sigmoid, Relu, Relu6, Silu };

// The scalar arguments of the ops that take them: Pow uses a (the exponent), Clamp a and b
// (lo, hi); the others ignore both.
struct UnaryArgs {
  double a = 0.0, b = 0.0;
};

// Whether the backward kernel reads the op's output y (otherwise its input x). Output-saving
// ops express the derivative through y more cheaply (exp, sigmoid) or equivalently (relu, relu6);
// silu must read x, since x cannot be recovered from x·sigmoid(x).
constexpr bool unary_backward_reads_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Sigmoid || op == UnaryOp::Relu ||
         op == UnaryOp::Relu6;
}

// Calls f(std::integral_constant<UnaryOp, op>{}) (backend.h's dispatch_enum over every op).
template <class F>
void dispatch_unary(UnaryOp op, F&& f) {
  using O = UnaryOp;
  dispatch_enum<O::Exp, O::Log, O::Sqrt, O::Pow, O::Clamp, O::Sigmoid, O::Relu, O::Relu6, O::Silu>(op, f);
}

// Evaluates whichever exponential cannot overflow: e^-x for x >= 0, e^x for x < 0. float uses the
// branch-free hd_math::sigmoid, whose loops vectorise on the CPU (libm's expf is a scalar call);
// double keeps std::exp as the reference.
template <class T>
EFFNET_HD T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
EFFNET_HD float stable_sigmoid(float x) { return hd_math::sigmoid(x); }

// The forward formula of each op. Comparisons are written so that NaN falls through to the
// "pass x" branch and propagates.
template <class T, UnaryOp OP>
EFFNET_HD T unary_forward(T x, T a, T b) {
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
EFFNET_HD T unary_backward_element(T g, T s, T a, T b) {
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

// The unary op of a fused activation (unary.h): f(std::integral_constant<UnaryOp, op>{}), or
// nothing for FusedActivation::None.
template <class F>
void dispatch_fused_activation(FusedActivation a, F&& f) {
  switch (a) {
    case FusedActivation::None: return;
    case FusedActivation::Silu: return f(std::integral_constant<UnaryOp, UnaryOp::Silu>{});
    case FusedActivation::Relu6: return f(std::integral_constant<UnaryOp, UnaryOp::Relu6>{});
    case FusedActivation::Relu: return f(std::integral_constant<UnaryOp, UnaryOp::Relu>{});
    case FusedActivation::Sigmoid: return f(std::integral_constant<UnaryOp, UnaryOp::Sigmoid>{});
  }
}

// g · f'(z) from the activation's input z, for the ops that fuse an activation and recompute z in
// backward instead of saving it (batch norm): the op's own backward formula, given y = f(z)
// where it reads the output.
template <class T, UnaryOp OP>
EFFNET_HD T unary_grad_from_input(T g, T z) {
  const T s = unary_backward_reads_output(OP) ? unary_forward<T, OP>(z, T(0), T(0)) : z;
  return unary_backward_element<T, OP>(g, s, T(0), T(0));
}

// A fused activation as a functor on one value, and the gradient through it from its input z:
// NoActivation for FusedActivation::None, Activation<OP> for the others. with_activation(a, f)
// calls f with the functor, so that each activation gets a loop (or kernel) of its own.
struct NoActivation {
  template <class T>
  EFFNET_HD T operator()(T z) const { return z; }
  template <class T>
  EFFNET_HD T grad(T g, T /*z*/) const { return g; }
};
template <UnaryOp OP>
struct Activation {
  template <class T>
  EFFNET_HD T operator()(T z) const { return unary_forward<T, OP>(z, T(0), T(0)); }
  template <class T>
  EFFNET_HD T grad(T g, T z) const { return unary_grad_from_input<T, OP>(g, z); }
};
template <class F>
void with_activation(FusedActivation a, F&& f) {
  if (a == FusedActivation::None) return f(NoActivation{});
  dispatch_fused_activation(a, [&](auto op) { f(Activation<decltype(op)::value>{}); });
}

// unary_backward: dx = g · f'(x), computed from `saved`: y when unary_backward_reads_output(op),
// else x.
#define EFFNET_UNARY_BACKEND(X)                                                    \
  X(void, unary, (UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out)) \
  X(void, unary_backward, (UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx))
EFFNET_DECLARE_BACKENDS(EFFNET_UNARY_BACKEND)

}  // namespace effnet
