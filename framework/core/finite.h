// Finding NaN and Inf in a tensor, for the checks that name what went wrong: a weight file's
// dataset that holds them, the first model tensor of a training run that diverged.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

struct NonFinite {
  int64_t count = 0;        // how many values are NaN or +-Inf
  int64_t first = -1;       // flat index of the first (-1: none)
  double first_value = 0;   // its value: NaN, Inf or -Inf
};

// Scans a float tensor on any device (a CUDA tensor is copied to the host first); integer and
// undefined tensors hold no non-finite values.
NonFinite find_non_finite(const Tensor& t);

}  // namespace effnet
