// Matrix products on 2-D tensors: matmul, transpose and linear (x W^T + b, the fully connected
// layer's op). All differentiable; every product, forward and backward, is one GEMM with transpose
// flags (OpenBLAS on the CPU, cuBLAS on the GPU), so no transposed copies are made. The raw GEMM
// that other ops (im2col convolution) build on is cpu::gemm / cuda_ops::gemm in matmul_kernels.h.
#pragma once

#include "framework/core/tensor.h"

namespace effnet {

// (M, K) x (K, N) -> (M, N). Both operands 2-D, same dtype and device.
Tensor matmul(const Tensor& a, const Tensor& b);

// (R, C) -> (C, R), a new contiguous tensor (not a view).
Tensor transpose(const Tensor& x);

// x (N, in), weight (out, in), bias (out) or an undefined Tensor() -> x weight^T + bias, (N, out).
// Weight is stored (out, in) as in PyTorch, so converted checkpoints load without transposing.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace effnet
