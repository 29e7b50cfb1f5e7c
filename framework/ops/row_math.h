// Row-wise pieces shared by softmax, the losses and max/argmax, on both backends (EFFNET_HD): the
// order that max and argmax use (NaN wins, then the larger value, then the smaller index), as a
// comparison and as a column scan, and the log-sum-exp of a row from its maximum. row_reduce.cuh
// builds the warp and block reductions of the CUDA kernels on them.
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/host_device.h"

namespace effnet {

// The larger of a and b, NaN propagating (a plain `a > b ? a : b` never lets a NaN b through).
template <class T>
EFFNET_HD T max_nan(T a, T b) {
  return (a != a || a > b) ? a : b;
}

// True when (va, ia) ranks before (vb, ib) for max/argmax: NaN first, then larger, then first index.
template <class T>
EFFNET_HD bool arg_better(T va, int64_t ia, T vb, int64_t ib) {
  const bool na = va != va, nb = vb != vb;
  if (na || nb) return na && nb ? ia < ib : na;
  if (va != vb) return va > vb;
  return ia < ib;
}

// The argmax of a strided column p[0], p[stride], ..., p[(D - 1)·stride] (D >= 1), scanning left to
// right in arg_better's order: a later element wins only when larger, or when it is NaN; the first
// NaN ends the scan, since nothing after it can win.
template <class T>
struct ArgMax {
  T value;
  int64_t index;
};
template <class T>
EFFNET_HD ArgMax<T> argmax_scan(const T* p, int64_t D, int64_t stride) {
  T best = p[0];
  int64_t best_i = 0;
  for (int64_t d = 1; d < D && best == best; ++d) {
    const T v = p[d * stride];
    if (v > best || v != v) {
      best = v;
      best_i = d;
    }
  }
  return {best, best_i};
}

// log(sum_d e^(x_d)) of a row, given its maximum m and sum = sum_d e^(x_d - m).
template <class T>
EFFNET_HD T log_sum_exp(T m, T sum) {
  return m + std::log(sum);
}

}  // namespace effnet
