// CPU kernel of pad2d: one output row at a time, a memcpy-like copy of the overlapping span
// (Pad2dGeometry of pad_kernels.h) and zeros around it.
#include <algorithm>

#include "framework/ops/pad_kernels.h"

namespace effnet::cpu {

void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left) {
  const Pad2dGeometry g = Pad2dGeometry::of(in, out, top, left);
  int64_t planes = 1;  // product of the leading dimensions
  for (int64_t d = 0; d < out.dim() - 2; ++d) planes *= out.size(d);
  const int64_t j0 = g.first_col(), j1 = g.end_col(), ho = g.ho, wo = g.wo;
  dispatch_float(in.dtype(), "pad2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
    // A copy of g per thread keeps its fields in registers across the fill and copy calls.
#pragma omp parallel for firstprivate(g) if (planes * ho * wo > 32768)
    for (int64_t r = 0; r < planes * ho; ++r) {
      const int64_t b = r / ho, i = r % ho;
      scalar_t* row = dst + r * wo;
      if (!g.row_inside(i) || j0 >= j1) {
        std::fill(row, row + wo, scalar_t(0));
        continue;
      }
      const scalar_t* from = src + g.source(b, i, j0);
      std::fill(row, row + j0, scalar_t(0));
      std::copy(from, from + (j1 - j0), row + j0);
      std::fill(row + j1, row + wo, scalar_t(0));
    }
  });
}

}  // namespace effnet::cpu
