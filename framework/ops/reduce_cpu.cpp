// CPU kernel of sum/mean: accumulates in double for float32 so that long reductions stay accurate.
#include "framework/ops/reduce_kernels.h"

namespace effnet::cpu {

void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for if (outer * reduce * inner > 65536)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0.0;
        const scalar_t* p = px + o * reduce * inner + i;
        for (int64_t r = 0; r < reduce; ++r) acc += double(p[r * inner]);
        po[o * inner + i] = scalar_t(acc * scale);
      }
    }
  });
}

}  // namespace effnet::cpu
