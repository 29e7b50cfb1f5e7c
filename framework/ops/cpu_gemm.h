// GEMM on the CPU backend's one thread pool. OpenBLAS (Debian's pthread build) would otherwise
// start its own threads for every GEMM, and the OpenMP workers, which spin for a while after each
// parallel region, then compete with them for the same cores (on 2 cores that halved throughput).
// So OpenBLAS is switched to one thread the first time a kernel needs it, and the GEMMs that are
// big enough are split here into one single-threaded BLAS call per OpenMP thread.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "framework/core/cpu_parallel.h"

namespace effnet::cpu {

// Called before every BLAS call; after the first call it costs one atomic load.
inline void use_serial_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// Row-major C = alpha * op(A) · op(B) + beta * C with explicit leading dimensions, on the calling
// thread only.
inline void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                        const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
inline void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                        int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// The same product split over the OpenMP threads: by column blocks of C when it is wide enough,
// else by row blocks; each thread makes one single-threaded BLAS call on its block (the shared
// operand is packed once per thread, which is cheap next to the product). Small products stay
// on the calling thread. Sizes must be positive.
template <class T>
void parallel_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  use_serial_blas();
  constexpr int64_t kMinWork = int64_t(1) << 17;  // multiply-adds below which a fork costs more than it saves
  int threads = m * n * k >= kMinWork ? cpu_threads() : 1;
  // Blocks of 16 columns / 8 rows keep every thread's block a whole number of BLAS micro-tiles.
  const bool by_cols = n >= 32 * threads || n >= m;
  const int64_t extent = by_cols ? n : m, quantum = by_cols ? 16 : 8;
  threads = int(std::min<int64_t>(threads, (extent + quantum - 1) / quantum));
  if (threads <= 1) {
    gemm_serial(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t per = (extent + threads - 1) / threads;
  const int64_t step = (per + quantum - 1) / quantum * quantum;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int t = 0; t < threads; ++t) {
    const int64_t lo = t * step, hi = std::min(extent, lo + step);
    if (lo >= hi) continue;
    if (by_cols) {
      const T* bt = tb ? b + lo * ldb : b + lo;  // op(B) columns lo..hi
      gemm_serial(ta, tb, m, hi - lo, k, alpha, a, lda, bt, ldb, beta, c + lo, ldc);
    } else {
      const T* at = ta ? a + lo : a + lo * lda;  // op(A) rows lo..hi
      gemm_serial(ta, tb, hi - lo, n, k, alpha, at, lda, b, ldb, beta, c + lo * ldc, ldc);
    }
  }
}

}  // namespace effnet::cpu
