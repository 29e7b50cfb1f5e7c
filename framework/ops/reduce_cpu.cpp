// CPU kernel of sum/mean: accumulates in double (vec::sum where the reduced values are contiguous)
// so that long reductions stay accurate.
#include <algorithm>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"
#include "framework/ops/reduce_kernels.h"

namespace effnet::cpu {

void sum_middle(const Tensor& x, Tensor& out, int64_t outer, int64_t reduce, int64_t inner, double scale) {
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t rows = outer * inner;
    parallel_for(rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(reduce, 1)),
                 [&](int64_t lo, int64_t hi) EFFNET_INLINE {
                   for (int64_t r = lo; r < hi; ++r) {
                     const int64_t o = r / inner, i = r % inner;
                     const scalar_t* p = px + o * reduce * inner + i;
                     double acc;
                     if (inner == 1) {
                       acc = vec::sum<scalar_t>(reduce, [p](int64_t k) { return p[k]; });
                     } else {
                       acc = 0.0;
                       for (int64_t k = 0; k < reduce; ++k) acc += double(p[k * inner]);
                     }
                     po[r] = sum_result<scalar_t>(acc, scale);
                   }
                 });
  });
}

}  // namespace effnet::cpu
