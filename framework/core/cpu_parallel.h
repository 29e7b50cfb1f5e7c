// Threading and instruction-set policy of the CPU backend, shared by every *_cpu.cpp kernel.
//
// One thread pool: OpenMP's (the GEMMs keep OpenBLAS single-threaded and split themselves over
// these threads: framework/ops/cpu_gemm.h).
//
// Instruction set: the library is built for baseline x86-64 (SSE2), so that it runs anywhere.
// Hot loops go through vectorised(), which runs a second copy of them compiled for AVX2 + FMA
// when the CPU has both (twice the vector width, fused multiply-adds); results then differ from
// the SSE2 copy by rounding only.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "framework/core/host_device.h"  // EFFNET_INLINE: required of the lambdas given to vectorised()

namespace effnet::cpu {


#if defined(__x86_64__) && defined(__GNUC__)
inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
namespace detail {
template <class F>
__attribute__((target("avx2,fma"))) void call_avx2(F& f, int64_t lo, int64_t hi) {
  f(lo, hi);
}
}  // namespace detail
#endif

// Calls f(lo, hi) on the calling thread, in the AVX2 + FMA copy where the CPU allows. f must be an
// EFFNET_INLINE lambda (or inline function object) with the whole loop inside: only code inlined
// into the AVX2 copy is compiled for AVX2.
template <class F>
void vectorised(F&& f, int64_t lo, int64_t hi) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_avx2()) {
    detail::call_avx2(f, lo, hi);
    return;
  }
#endif
  f(lo, hi);
}

// Threads a parallel region may use here: 1 inside an enclosing parallel region (no nesting).
inline int cpu_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// f(lo, hi) over [0, n): one contiguous chunk per OpenMP thread once n exceeds min_parallel, else
// on the calling thread; each chunk through vectorised().
template <class F>
void parallel_for(int64_t n, int64_t min_parallel, F&& f) {
  const int threads = n > min_parallel ? int(std::min<int64_t>(cpu_threads(), n)) : 1;
  if (threads <= 1) {
    if (n > 0) vectorised(f, 0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    if (lo < hi) vectorised(f, lo, hi);
  }
}

}  // namespace effnet::cpu
