// CPU kernels of the pooling family; plane sums accumulate in double.
#include "framework/ops/pooling_kernels.h"

namespace effnet::cpu {

void global_avg_pool2d(const Tensor& x, Tensor& out, int64_t planes, int64_t hw) {
  dispatch_float(x.dtype(), "global_avg_pool2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for if (planes * hw > 32768)
    for (int64_t p = 0; p < planes; ++p) {
      double acc = 0.0;
      for (int64_t i = 0; i < hw; ++i) acc += double(px[p * hw + i]);
      po[p] = scalar_t(acc / double(hw));
    }
  });
}

void global_avg_pool2d_backward(const Tensor& g, Tensor& gx, int64_t planes, int64_t hw) {
  dispatch_float(g.dtype(), "global_avg_pool2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pg = g.data<scalar_t>();
    scalar_t* pgx = gx.data<scalar_t>();
#pragma omp parallel for if (planes * hw > 32768)
    for (int64_t p = 0; p < planes; ++p) {
      const scalar_t v = pg[p] * scalar_t(1.0 / double(hw));  // as the CUDA kernel computes it
      for (int64_t i = 0; i < hw; ++i) pgx[p * hw + i] = v;
    }
  });
}

}  // namespace effnet::cpu
