// Backend entry points of the unary family (unary_cpu.cpp, unary_cuda.cu): one forward and one
// backward entry, each fanning out over UnaryOp to a kernel template instantiated per op.
#pragma once

#include <type_traits>

#include "framework/core/tensor.h"

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

// Calls f(std::integral_constant<UnaryOp, op>{}) so that a backend can turn the runtime op into
// a template argument in one place.
template <class F>
void dispatch_unary(UnaryOp op, F&& f) {
  using O = UnaryOp;
  switch (op) {
    case O::Exp: f(std::integral_constant<O, O::Exp>{}); return;
    case O::Log: f(std::integral_constant<O, O::Log>{}); return;
    case O::Sqrt: f(std::integral_constant<O, O::Sqrt>{}); return;
    case O::Pow: f(std::integral_constant<O, O::Pow>{}); return;
    case O::Clamp: f(std::integral_constant<O, O::Clamp>{}); return;
    case O::Sigmoid: f(std::integral_constant<O, O::Sigmoid>{}); return;
    case O::Relu: f(std::integral_constant<O, O::Relu>{}); return;
    case O::Relu6: f(std::integral_constant<O, O::Relu6>{}); return;
    case O::Silu: f(std::integral_constant<O, O::Silu>{}); return;
  }
}

namespace cpu {
void unary(UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out);
// dx = g · f'(x), computed from `saved`: y when unary_backward_reads_output(op), else x.
void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx);
}  // namespace cpu

namespace cuda_ops {
void unary(UnaryOp op, const UnaryArgs& args, const Tensor& x, Tensor& out);
void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& g, const Tensor& saved, Tensor& dx);
}  // namespace cuda_ops

}  // namespace effnet
