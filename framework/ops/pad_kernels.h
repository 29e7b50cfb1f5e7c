// Backend entry points of pad2d (pad_cpu.cpp, pad_cuda.cu) and the index arithmetic both halves
// share. One kernel serves both directions: out[b, i, j] = in[b, i - top, j - left] where that lies
// inside `in`, else 0. With top/left >= 0 and a larger `out` this pads; with negated offsets and
// a smaller `out` it crops (the backward).
#pragma once

#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// The sizes of one pad2d call (hi x wi planes into ho x wo planes) and where an output element's
// source lies. The CPU copies the spans [first_col, end_col) of the rows that have a source; the
// CUDA kernel tests each element against the same bounds.
struct Pad2dGeometry {
  int64_t hi, wi, ho, wo, top, left;

  static Pad2dGeometry of(const Tensor& in, const Tensor& out, int64_t top, int64_t left) {
    return {in.size(-2), in.size(-1), out.size(-2), out.size(-1), top, left};
  }
  // Whether output row i has a source row (i - top inside [0, hi)).
  EFFNET_HD bool row_inside(int64_t i) const { return i - top >= 0 && i - top < hi; }
  // Output columns [first_col(), end_col()) have a source column (j - left inside [0, wi)).
  EFFNET_HD int64_t first_col() const { return clamp_col(left); }
  EFFNET_HD int64_t end_col() const { return clamp_col(left + wi); }
  // The source of output element (plane, i, j), valid where row and column have one.
  EFFNET_HD int64_t source(int64_t plane, int64_t i, int64_t j) const { return (plane * hi + i - top) * wi + j - left; }

 private:
  EFFNET_HD int64_t clamp_col(int64_t j) const { return j < 0 ? 0 : (j > wo ? wo : j); }
};

#define EFFNET_PAD_BACKEND(X) X(void, pad2d, (const Tensor& in, Tensor& out, int64_t top, int64_t left))
EFFNET_DECLARE_BACKENDS(EFFNET_PAD_BACKEND)

}  // namespace effnet
