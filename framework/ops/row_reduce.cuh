// Device helpers shared by the row-wise kernels of softmax, max/argmax and the losses: warp and
// block reductions built on the (value, index) order and NaN-propagating max of row_math.h,
// which the CPU loops use too.
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/row_math.h"

namespace effnet::cuda_ops {

template <class T>
__device__ __forceinline__ T dev_neg_inf() { return -INFINITY; }
template <class T>
__device__ __forceinline__ T dev_nan() { return T(NAN); }

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int off = 16; off > 0; off /= 2) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// Block-wide sum or max for blocks whose size is a multiple of 32 (at most 1024); every thread
// gets the result. `smem` holds 32 values and may be reused by the next call: the leading
// __syncthreads keeps a later call from overwriting smem[0] before everyone has read it.
template <bool IS_MAX, class T>
__device__ __forceinline__ T block_reduce(T v, T* smem) {
  v = IS_MAX ? warp_max(v) : warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T identity = IS_MAX ? dev_neg_inf<T>() : T(0);
    T w = lane < nwarps ? smem[lane] : identity;
    w = IS_MAX ? warp_max(w) : warp_sum(w);
    if (lane == 0) smem[0] = w;
  }
  __syncthreads();
  return smem[0];
}

// Warp-wide argmax; every lane gets the winner.
template <class T>
__device__ __forceinline__ void warp_argmax(T& v, int64_t& idx) {
  for (int off = 16; off > 0; off /= 2) {
    T ov = __shfl_xor_sync(0xffffffffu, v, off);
    int64_t oi = __shfl_xor_sync(0xffffffffu, idx, off);
    if (arg_better(ov, oi, v, idx)) {
      v = ov;
      idx = oi;
    }
  }
}

// The argmax of a contiguous row of D values, by one warp: each lane scans a strided slice, then
// the warp combines (value, index) pairs in arg_better's order; every lane gets the winner. Lanes
// past the end hold (-inf, INT64_MAX), which loses to every real element.
template <class T>
__device__ __forceinline__ ArgMax<T> warp_row_argmax(const T* row, int64_t D) {
  const int lane = threadIdx.x & 31;
  T best = dev_neg_inf<T>();
  int64_t best_i = INT64_MAX;
  for (int64_t d = lane; d < D; d += 32) {
    const T v = row[d];
    if (arg_better(v, d, best, best_i)) {
      best = v;
      best_i = d;
    }
  }
  warp_argmax(best, best_i);
  return {best, best_i};
}

// Warp-per-row kernels: the warp's global index and the number of warps in the grid.
__device__ __forceinline__ int64_t global_warp() { return (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5; }
__device__ __forceinline__ int64_t grid_warps() { return (int64_t(gridDim.x) * blockDim.x) >> 5; }

// out[r] = finish(sum of the len contiguous values of row r, in double), one warp per row, lanes
// striding over the row (coalesced) and combining with shuffles. finish is a functor double -> T
// holding the family's shared finishing formula (FinishWith below).
template <class T, class Finish>
__global__ void warp_row_sum_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t rows, int64_t len,
                                    Finish finish) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < rows; r += grid_warps()) {
    const T* p = x + r * len;
    double acc = 0.0;
    for (int64_t i = lane; i < len; i += 32) acc += double(p[i]);
    acc = warp_sum(acc);
    if (lane == 0) out[r] = finish(acc);
  }
}

// The finishing functor of a family's formula T formula(double acc, Arg arg) (sum_result,
// avg_pool_mean), with its argument bound.
template <class T, class Arg, T (*formula)(double, Arg)>
struct FinishWith {
  Arg arg;
  __device__ T operator()(double acc) const { return formula(acc, arg); }
};

// warp_row_sum_kernel over `rows` rows of `len` values, one warp per row.
template <class T, class Finish>
void warp_row_sum(const T* x, T* out, int64_t rows, int64_t len, Finish finish) {
  cuda::launch(warp_row_sum_kernel<T, Finish>, cuda::warp_per_row_grid(rows), cuda::kThreads, x, out, rows, len,
               finish);
}

}  // namespace effnet::cuda_ops
