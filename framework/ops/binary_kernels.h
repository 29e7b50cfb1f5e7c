// Backend entry points of the binary family (binary_cpu.cpp, binary_cuda.cu).
#pragma once

#include "framework/core/tensor.h"
#include "framework/ops/broadcast.h"

namespace effnet {

enum class BinaryOp { Add, Sub, Mul, Div, Right /* out = b: broadcast copy */ };

namespace cpu {
void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out);
void affine(const Tensor& x, double scale, double shift, Tensor& out);
}  // namespace cpu

namespace cuda_ops {
void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out);
void affine(const Tensor& x, double scale, double shift, Tensor& out);
}  // namespace cuda_ops

}  // namespace effnet
