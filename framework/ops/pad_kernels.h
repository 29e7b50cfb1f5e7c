// Backend entry points of pad2d (pad_cpu.cpp, pad_cuda.cu). One kernel serves both directions:
// out[b, i, j] = in[b, i - top, j - left] where that lies inside `in`, else 0. With top/left >= 0
// and a larger `out` this pads; with negated offsets and a smaller `out` it crops (the backward).
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {
namespace cpu {
void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left);
}
namespace cuda_ops {
void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left);
}
}  // namespace effnet
