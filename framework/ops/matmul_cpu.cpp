// CPU kernels of the matrix-product family: GEMM through OpenBLAS's row-major CBLAS interface (split
// over the OpenMP threads, see cpu_gemm.h), the transpose (cpu_vec.h's, split over the threads)
// and the bias row fill used by linear.

#include <algorithm>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_gemm.h"
#include "framework/ops/cpu_vec.h"
#include "framework/ops/matmul_kernels.h"

namespace effnet::cpu {
namespace {

template <class T>
void gemm_typed(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const T* A, const T* B,
                double beta, T* C) {
  const GemmLayout l = gemm_layout(transA, transB, M, N, K, "BLAS");
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0) {
    // Nothing to multiply; handled here so that beta == 0 overwrites (never scales) C whatever
    // the BLAS does with degenerate sizes.
    const int64_t n = M * N;
    for (int64_t i = 0; i < n; ++i) C[i] = gemm_beta_scale(C[i], beta);
    return;
  }
  parallel_gemm(transA, transB, M, N, K, T(alpha), A, l.lda, B, l.ldb, T(beta), C, l.ldc);
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const float* A, const float* B,
          double beta, float* C) {
  gemm_typed(transA, transB, M, N, K, alpha, A, B, beta, C);
}

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const double* A, const double* B,
          double beta, double* C) {
  gemm_typed(transA, transB, M, N, K, alpha, A, B, beta, C);
}

void transpose(const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "transpose", [&](auto tag) {
    using scalar_t = decltype(tag);
    transpose_parallel(x.data<scalar_t>(), out.data<scalar_t>(), x.size(0), x.size(1));
  });
}

void fill_rows(const Tensor& row, Tensor& out) {
  const int64_t R = out.size(0), C = out.size(1);
  dispatch_float(out.dtype(), "fill_rows", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pr = row.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for if (R * C > 65536)
    for (int64_t r = 0; r < R; ++r) std::copy(pr, pr + C, po + r * C);
  });
}

}  // namespace effnet::cpu
