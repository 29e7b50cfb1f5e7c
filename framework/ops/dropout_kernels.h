// Backend entry points of dropout / drop_connect (dropout_cpu.cpp, dropout_cuda.cu), and the keep
// decision and element step both backends share. The tensor is seen as `numel / group` groups of `group`
// consecutive elements (group = 1: dropout; group = numel / N: drop_connect); group k is kept when
// the float uniform of Philox counter offset + k is >= threshold (= float(p)). The decision uses
// only integer arithmetic and an exact power-of-two scaling, so it is bit-identical on CPU and GPU.
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/philox.h"
#include "framework/core/tensor.h"

namespace effnet {

struct DropMask {
  uint64_t seed = 0, offset = 0;
  float threshold = 0.0f;  // p
  double scale = 1.0;      // 1 / (1 - p)
  int64_t group = 1;
};

EFFNET_HD bool drop_keep(uint64_t seed, uint64_t counter, float threshold) {
  return philox::uniform_float(philox::generate(seed, counter)) >= threshold;
}

// One element: x * scale where its group is kept, else 0.
template <class T>
EFFNET_HD T drop_element(bool keep, T x, T scale) {
  return keep ? x * scale : T(0);
}

// apply_drop_mask: out = drop_element(keep(group of i), x, scale); forward and backward
// (x = incoming gradient) alike.
#define EFFNET_DROPOUT_BACKEND(X) X(void, apply_drop_mask, (const Tensor& x, const DropMask& mask, Tensor& out))
EFFNET_DECLARE_BACKENDS(EFFNET_DROPOUT_BACKEND)

}  // namespace effnet
