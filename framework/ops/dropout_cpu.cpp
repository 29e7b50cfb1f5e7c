// CPU kernel of dropout / drop_connect: one keep decision per group, then the group's elements.
#include "framework/ops/dropout_kernels.h"

namespace effnet::cpu {

void apply_drop_mask(const Tensor& x, const DropMask& m, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const int64_t groups = n / m.group;
  dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const scalar_t scale = scalar_t(m.scale);
#pragma omp parallel for if (n > 32768)
    for (int64_t k = 0; k < groups; ++k) {
      const bool keep = drop_keep(m.seed, m.offset + uint64_t(k), m.threshold);
      const int64_t base = k * m.group;
      for (int64_t i = 0; i < m.group; ++i) po[base + i] = keep ? px[base + i] * scale : scalar_t(0);
    }
  });
}

}  // namespace effnet::cpu
