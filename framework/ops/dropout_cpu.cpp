// CPU kernel of dropout / drop_connect: one keep decision per group, then the group's elements.
#include <algorithm>

#include "framework/core/cpu_parallel.h"
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
    parallel_for(groups, std::max<int64_t>(1, 32768 / m.group), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t k = lo; k < hi; ++k) {
        // One decision per group, hoisted out of the element loop, so that a kept group is a plain
        // loop of drop_element(true, ·) and a dropped one a zero fill, both vectorising.
        const int64_t base = k * m.group;
        if (drop_keep(m.seed, m.offset + uint64_t(k), m.threshold)) {
          for (int64_t i = 0; i < m.group; ++i) po[base + i] = drop_element(true, px[base + i], scale);
        } else {
          std::fill(po + base, po + base + m.group, scalar_t(0));
        }
      }
    });
  });
}

}  // namespace effnet::cpu
