// Broadcasting rules (NumPy/PyTorch): shapes are aligned from the right; a dimension of size 1
// stretches to the other's size. BroadcastPlan turns two shapes into the output shape plus, for
// each input, per-dimension element strides that are 0 along stretched dimensions. CPU loops and
// CUDA kernels both walk the output with these strides.
#pragma once

#include <array>
#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

constexpr int kMaxDims = 8;

struct BroadcastPlan {
  int ndim = 0;
  std::array<int64_t, kMaxDims> out_sizes{};
  std::array<int64_t, kMaxDims> a_strides{};
  std::array<int64_t, kMaxDims> b_strides{};
  Shape out_shape;
  bool same_shape = false;  // fast path: a, b and out all have one shape
};

// Throws, naming the op and both shapes, when they do not broadcast.
BroadcastPlan plan_broadcast(const char* op, const Shape& a, const Shape& b);
// The shape two shapes broadcast to.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

}  // namespace effnet
