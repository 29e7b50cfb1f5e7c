// CPU kernel of pad2d: one output row at a time, a memcpy-like copy of the overlapping span
// and zeros around it.
#include <algorithm>

#include "framework/ops/pad_kernels.h"

namespace effnet::cpu {

void pad2d(const Tensor& in, Tensor& out, int64_t top, int64_t left) {
  const int64_t hi = in.size(-2), wi = in.size(-1), ho = out.size(-2), wo = out.size(-1);
  int64_t planes = 1;  // product of the leading dimensions
  for (int64_t d = 0; d < out.dim() - 2; ++d) planes *= out.size(d);
  // Output columns [j0, j1) come from input columns [j0 - left, j1 - left).
  const int64_t j0 = std::clamp<int64_t>(left, 0, wo), j1 = std::clamp<int64_t>(left + wi, 0, wo);
  dispatch_float(in.dtype(), "pad2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* src = in.data<scalar_t>();
    scalar_t* dst = out.data<scalar_t>();
#pragma omp parallel for if (planes * ho * wo > 32768)
    for (int64_t r = 0; r < planes * ho; ++r) {
      const int64_t b = r / ho, i = r % ho, si = i - top;
      scalar_t* row = dst + r * wo;
      if (si < 0 || si >= hi || j0 >= j1) {
        std::fill(row, row + wo, scalar_t(0));
        continue;
      }
      const scalar_t* src_row = src + (b * hi + si) * wi;
      std::fill(row, row + j0, scalar_t(0));
      std::copy(src_row + (j0 - left), src_row + (j1 - left), row + j0);
      std::fill(row + j1, row + wo, scalar_t(0));
    }
  });
}

}  // namespace effnet::cpu
