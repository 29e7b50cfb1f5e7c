// Backend entry points of the matrix-product family (matmul_cpu.cpp, matmul_cuda.cu). gemm takes
// raw pointers so that ops which are GEMMs in disguise (convolution via im2col) can call it on
// parts of their buffers. The shared pieces: the checked gemm layout and the degenerate gemm's
// element formula.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// The leading dimensions of a row-major gemm (the stored row lengths; BLAS wants at least 1 even
// for empty rows), after checking that the sizes fit the BLAS int. `library` names the BLAS in
// the error.
struct GemmLayout {
  int lda, ldb, ldc;
};
inline GemmLayout gemm_layout(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const char* library) {
  EFFNET_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size (M=", M, ", N=", N, ", K=", K, ")");
  EFFNET_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX, "gemm: size beyond the ", library, " int range (M=", M,
               ", N=", N, ", K=", K, ")");
  return {int(std::max<int64_t>(1, transA ? M : K)), int(std::max<int64_t>(1, transB ? K : N)),
          int(std::max<int64_t>(1, N))};
}

// C = beta * C for the degenerate gemms (K == 0 or alpha == 0); beta == 0 writes zeros, so that
// garbage in C (even NaN) never leaks.
template <class T>
EFFNET_HD T gemm_beta_scale(T c, double beta) {
  return beta == 0.0 ? T(0) : c * T(beta);
}

// gemm (one overload per floating type): C = alpha * op(A) * op(B) + beta * C, all matrices
// row-major and densely packed.
//   op(A) is M x K: A is stored M x K (row length K) when !transA, K x M (row length M) when transA.
//   op(B) is K x N: B is stored K x N (row length N) when !transB, N x K (row length K) when transB.
//   C is M x N (row length N).
// beta == 0 means C is only written, never read (it may hold garbage, even NaN). K == 0 gives
// C = beta * C. Sizes are int64 but must fit the BLAS int (checked). The CUDA version runs
// asynchronously on cuda::stream() with device pointers, in full float32 (no TF32).
// transpose: x (R, C) -> out (C, R); fill_rows: every row of out (R, C) = row (C).
#define EFFNET_MATMUL_BACKEND(X)                                                                                      \
  X(void, gemm,                                                                                                      \
    (bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const float* A, const float* B,        \
     double beta, float* C))                                                                                         \
  X(void, gemm,                                                                                                      \
    (bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, const double* B,      \
     double beta, double* C))                                                                                        \
  X(void, transpose, (const Tensor& x, Tensor& out))                                                                \
  X(void, fill_rows, (const Tensor& row, Tensor& out))
EFFNET_DECLARE_BACKENDS(EFFNET_MATMUL_BACKEND)

}  // namespace effnet
