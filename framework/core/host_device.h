// Function qualifiers shared by the CPU and CUDA halves of the backend.
//   EFFNET_HD      a function compiled for both halves: the per-element formulas of the
//                  *_kernels.h headers, hd_math.h, Philox. Under nvcc it is __host__ __device__,
//                  so the CPU loops and the CUDA kernels call the same code and the CPU tests
//                  check the math the GPU runs. It is always inlined, on the host too: the
//                  formulas sit in the hot loops, and inside vectorised() only an inlined body
//                  gets the AVX2 + FMA code (an out-of-line call would run baseline SSE2 code,
//                  element by element).
//   EFFNET_INLINE  forces inlining into the caller, so that a body is compiled for the caller's
//                  target: the AVX2 copies of cpu_parallel.h's vectorised() only cover what is
//                  inlined into them.
#pragma once

#ifdef __CUDACC__
#define EFFNET_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define EFFNET_HD inline __attribute__((always_inline))
#else
#define EFFNET_HD inline
#endif

#if defined(__GNUC__)
#define EFFNET_INLINE __attribute__((always_inline))
#else
#define EFFNET_INLINE
#endif
