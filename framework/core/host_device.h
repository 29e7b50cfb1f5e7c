// Function qualifiers shared by the CPU and CUDA halves of the backend.
//   EFFNET_HD      a function compiled for both halves: the per-element formulas of the
//                  *_kernels.h headers, Philox. Under nvcc it is __host__ __device__, so the CPU
//                  loops and the CUDA kernels call the same code and the CPU tests check the
//                  math the GPU runs.
//   EFFNET_INLINE  forces inlining into the caller, so that a body is compiled for the caller's
//                  target: the AVX2 copies of cpu_parallel.h's vectorised() only cover what is
//                  inlined into them.
#pragma once

#ifdef __CUDACC__
#define EFFNET_HD __host__ __device__ __forceinline__
#else
#define EFFNET_HD inline
#endif

#if defined(__GNUC__)
#define EFFNET_INLINE __attribute__((always_inline))
#else
#define EFFNET_INLINE
#endif
