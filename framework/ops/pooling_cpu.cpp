// CPU kernels of the pooling family, over the averaging formulas of pooling_kernels.h; plane sums
// accumulate through vec::sum (double-accurate).
#include <algorithm>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"
#include "framework/ops/pooling_kernels.h"

namespace effnet::cpu {

void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw) {
  dispatch_float(x.dtype(), "global_avg_pool2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(planes, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, hw)), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t p = lo; p < hi; ++p) {
        const scalar_t* plane = px + p * hw;
        po[p] = avg_pool_mean<scalar_t>(vec::sum<scalar_t>(hw, [plane](int64_t i) { return plane[i]; }), hw);
      }
    });
  });
}

void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw) {
  dispatch_float(g.dtype(), "global_avg_pool2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pg = g.data<scalar_t>();
    scalar_t* pgx = gx.data<scalar_t>();
    const scalar_t inv_count = avg_pool_inv_count<scalar_t>(hw);
    parallel_for(planes, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, hw)), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t p = lo; p < hi; ++p) std::fill(pgx + p * hw, pgx + (p + 1) * hw, avg_pool_grad(pg[p], inv_count));
    });
  });
}

}  // namespace effnet::cpu
