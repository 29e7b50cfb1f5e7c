// Backend entry points of the matrix-product family (matmul_cpu.cpp, matmul_cuda.cu). gemm takes
// raw pointers so that ops which are GEMMs in disguise (convolution via im2col) can call it on
// parts of their buffers.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

// gemm: C = alpha * op(A) * op(B) + beta * C, all matrices row-major and densely packed.
//   op(A) is M x K: A is stored M x K (row length K) when !transA, K x M (row length M) when transA.
//   op(B) is K x N: B is stored K x N (row length N) when !transB, N x K (row length K) when transB.
//   C is M x N (row length N).
// beta == 0 means C is only written, never read (it may hold garbage, even NaN). K == 0 gives
// C = beta * C. Sizes are int64 but must fit the BLAS int (checked). The CUDA version runs
// asynchronously on cuda::stream() with device pointers, in full float32 (no TF32).
namespace cpu {
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const float* A, const float* B,
          double beta, float* C);
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, const double* B,
          double beta, double* C);
void transpose(const Tensor& x, Tensor& out);  // x (R, C) -> out (C, R)
void fill_rows(const Tensor& row, Tensor& out);  // every row of out (R, C) = row (C)
}  // namespace cpu

namespace cuda_ops {
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const float* A, const float* B,
          double beta, float* C);
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, const double* B,
          double beta, double* C);
void transpose(const Tensor& x, Tensor& out);
void fill_rows(const Tensor& row, Tensor& out);
}  // namespace cuda_ops

}  // namespace effnet
