// Threading and instruction-set policy of the CPU backend, shared by every *_cpu.cpp kernel.
//
// One thread pool: OpenMP's (the GEMMs keep OpenBLAS single-threaded and split themselves over
// these threads: framework/ops/cpu_gemm.h).
//
// Instruction set: the library is built for baseline x86-64 (SSE2), so that it runs anywhere.
// Hot loops go through vectorised(), which runs a copy of them compiled for the widest level the
// CPU has: AVX-512 (F/VL/BW/DQ, 16 floats per instruction), else AVX2 + FMA (8 floats, fused
// multiply-adds), else the baseline. Results differ between the copies by rounding only. The level
// can be lowered (never raised above what the CPU has) with EFFNET_CPU_ISA=baseline|avx2|avx512 or
// set_cpu_isa_limit(), so that tests check every copy against the baseline reference on one machine.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "framework/core/host_device.h"  // EFFNET_INLINE: required of the lambdas given to vectorised()

namespace effnet::cpu {


enum class CpuIsa { Baseline = 0, Avx2 = 1, Avx512 = 2 };
const char* cpu_isa_name(CpuIsa isa);
// What this CPU supports.
CpuIsa cpu_isa_detected();
// The level the kernels use: the detected one, lowered by EFFNET_CPU_ISA or set_cpu_isa_limit().
CpuIsa cpu_isa();
// Caps the level (tests, benchmarks); returns the previous cap. Not for use while kernels run.
CpuIsa set_cpu_isa_limit(CpuIsa limit);

#if defined(__x86_64__) && defined(__GNUC__)
namespace detail {
template <class F>
__attribute__((target("avx2,fma"))) void call_avx2(F& f, int64_t lo, int64_t hi) {
  f(lo, hi);
}
// 512-bit vectors preferred: GCC's default for AVX-512 targets may keep 256-bit loops.
template <class F>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"))) void call_avx512(
    F& f, int64_t lo, int64_t hi) {
  f(lo, hi);
}
}  // namespace detail
#endif

// Calls f(lo, hi) on the calling thread, in the widest copy cpu_isa() allows. f must be an
// EFFNET_INLINE lambda (or inline function object) with the whole loop inside: only code inlined
// into a copy is compiled for its instruction set.
template <class F>
void vectorised(F&& f, int64_t lo, int64_t hi) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (cpu_isa()) {
    case CpuIsa::Avx512: detail::call_avx512(f, lo, hi); return;
    case CpuIsa::Avx2: detail::call_avx2(f, lo, hi); return;
    case CpuIsa::Baseline: break;
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
