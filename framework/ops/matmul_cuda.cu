// CUDA kernels of the matrix-product family: GEMM through cuBLAS (column-major, so a row-major
// C = op(A) op(B) is issued as the column-major C^T = op(B)^T op(A)^T, i.e. with the operands
// swapped and the same flags), a shared-memory tiled transpose and the bias row fill; the checked
// layout and the degenerate gemm's formula are matmul_kernels.h's, shared with the CPU.
#include <algorithm>
#include <climits>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/matmul_kernels.h"

namespace effnet::cuda_ops {
namespace {

constexpr int kTile = 32;       // transpose tile edge
constexpr int kTileRows = 8;    // threads per tile column: each thread moves kTile / kTileRows elements

// The tile is read row-wise from x and written row-wise into out, so both global accesses are
// coalesced; the extra column staggers the shared-memory banks for the column-wise reads.
template <class T>
__global__ void transpose_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t R, int64_t C) {
  __shared__ T tile[kTile][kTile + 1];
  const int64_t row_tiles = (R + kTile - 1) / kTile;
  const int64_t c = int64_t(blockIdx.x) * kTile + threadIdx.x;  // column of x read by this thread
  const int64_t out_r0 = int64_t(blockIdx.x) * kTile;            // first row of out in this tile
  // Grid-stride over row tiles: gridDim.y is capped at 65535.
  for (int64_t ty = blockIdx.y; ty < row_tiles; ty += gridDim.y) {
    const int64_t r0 = ty * kTile;
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const int64_t r = r0 + j;
      if (r < R && c < C) tile[j][threadIdx.x] = x[r * C + c];
    }
    __syncthreads();
    const int64_t out_c = r0 + threadIdx.x;  // column of out = row of x
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const int64_t out_r = out_r0 + j;
      if (out_r < C && out_c < R) out[out_r * R + out_c] = tile[threadIdx.x][j];
    }
    __syncthreads();  // the tile is refilled on the next pass
  }
}

// Element i of out (R, cols) is element i % cols of the row.
template <class T>
struct FillRows {
  const T* row;
  T* out;
  int64_t cols;
  __device__ void operator()(int64_t i) const { out[i] = row[i % cols]; }
};

template <class T>
struct BetaScale {
  T* c;
  double beta;
  __device__ void operator()(int64_t i) const { c[i] = gemm_beta_scale(c[i], beta); }
};

inline cublasStatus_t cublas_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                                  const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
                                  int ldc) {
  return cublasSgemm(cuda::cublas(), ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline cublasStatus_t cublas_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha,
                                  const double* A, int lda, const double* B, int ldb, const double* beta, double* C,
                                  int ldc) {
  return cublasDgemm(cuda::cublas(), ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_typed(bool transA, bool transB, int64_t M, int64_t N, int64_t K, double alpha, const T* A, const T* B,
                double beta, T* C) {
  const GemmLayout l = gemm_layout(transA, transB, M, N, K, "cuBLAS");
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0) {
    cuda::for_each(M * N, BetaScale<T>{C, beta});
    return;
  }
  // Row-major X (r x c) is column-major X^T with leading dimension c. So the row-major product
  // C = op(A) op(B) is the column-major C^T (N x M) = op(B)^T op(A)^T: B goes first, and each
  // operand keeps its own transpose flag.
  const T a = T(alpha), b = T(beta);
  count_cuda_launch();
  CUBLAS_CHECK(cublas_gemm(transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M),
                           int(K), &a, B, l.ldb, A, l.lda, &b, C, l.ldc));
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
  const int64_t R = x.size(0), C = x.size(1);
  if (R == 0 || C == 0) return;
  const int64_t col_tiles = (C + kTile - 1) / kTile, row_tiles = (R + kTile - 1) / kTile;
  EFFNET_CHECK(col_tiles <= INT_MAX, "transpose: too many columns in ", x.str());
  const dim3 grid(unsigned(col_tiles), unsigned(std::min<int64_t>(row_tiles, 65535)));
  const dim3 block(kTile, kTileRows);
  dispatch_float(x.dtype(), "transpose", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::launch(transpose_kernel<scalar_t>, grid, block, x.data<scalar_t>(), out.data<scalar_t>(), R, C);
  });
}

void fill_rows(const Tensor& row, Tensor& out) {
  dispatch_float(out.dtype(), "fill_rows", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(out.numel(), FillRows<scalar_t>{row.data<scalar_t>(), out.data<scalar_t>(), out.size(1)});
  });
}

}  // namespace effnet::cuda_ops
