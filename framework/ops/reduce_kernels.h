// Backend entry points of sum/mean (reduce_cpu.cpp, reduce_cuda.cu): one pass reduces the middle
// of an (outer, reduce, inner) view of a contiguous tensor into (outer, inner), scaling the
// result. Both halves accumulate in double and finish with sum_result.
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// One output from its double accumulator: scaled (1 for sum, 1 / count for mean), rounded once.
template <class T>
EFFNET_HD T sum_result(double acc, double scale) {
  return T(acc * scale);
}

#define EFFNET_REDUCE_BACKEND(X) \
  X(void, sum_middle, (const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale))
EFFNET_DECLARE_BACKENDS(EFFNET_REDUCE_BACKEND)

}  // namespace effnet
