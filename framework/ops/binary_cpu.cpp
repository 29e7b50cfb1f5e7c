// CPU kernels of the binary family, over the shared formulas of binary_kernels.h. The broadcast
// loop walks the output in row-major order, one row of the collapsed plan's last dimension at a
// time (unravelling the row index over the outer dimensions), with loops of their own for the
// common stride patterns.
#include <algorithm>

#include "framework/ops/binary_kernels.h"
#include "framework/core/cpu_parallel.h"

namespace effnet::cpu {
namespace {

template <BinaryOp OP, class T>
void binary_same_shape(const T* a, const T* b, T* out, int64_t n) {
  parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t i = lo; i < hi; ++i) out[i] = binary_element<T, OP>(a[i], b[i]);
  });
}

// One output row; the common stride patterns get loops of their own so that they vectorise.
template <BinaryOp OP, class T>
EFFNET_INLINE inline void binary_row(const T* a, int64_t as, const T* b, int64_t bs, T* out, int64_t n) {
  if (as == 1 && bs == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = binary_element<T, OP>(a[i], b[i]);
  } else if (as == 1 && bs == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = binary_element<T, OP>(a[i], bv);
  } else if (as == 0 && bs == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = binary_element<T, OP>(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = binary_element<T, OP>(a[i * as], b[i * bs]);
  }
}

template <BinaryOp OP, class T>
void binary_broadcast(const BroadcastPlan& plan, const T* a, const T* b, T* out) {
  const CollapsedBroadcast p = collapse_broadcast(plan);
  const int nd = p.ndim;
  const int last = std::max(nd - 1, 0);
  const int64_t inner = nd ? p.sizes[last] : 1;
  const int64_t as = nd ? p.a_strides[last] : 0, bs = nd ? p.b_strides[last] : 0;
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= p.sizes[d];
  // Rows of at most ~32K elements per task; an empty row (zero-sized tensors) must not divide by 0.
  parallel_for(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, inner)), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
    for (int64_t o = lo; o < hi; ++o) {
      // Offsets of row o in a and b: o unravelled over the outer dimensions.
      int64_t ao, bo;
      broadcast_offsets(p, nd - 1, o, ao, bo);
      binary_row<OP>(a + ao, as, b + bo, bs, out + o * inner, inner);
    }
  });
}

}  // namespace

void binary(BinaryOp op, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_binary_operands(op, a, b, out, [&](auto op_tag, const auto* pa, const auto* pb, auto* po) {
    constexpr BinaryOp OP = decltype(op_tag)::value;
    if (plan.same_shape) binary_same_shape<OP>(pa, pb, po, shape_numel(plan.out_shape));
    else binary_broadcast<OP>(plan, pa, pb, po);
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  int64_t n = x.numel();
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const scalar_t s = scalar_t(scale), t = scalar_t(shift);
    parallel_for(n, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) po[i] = affine_element(px[i], s, t);
    });
  });
}

}  // namespace effnet::cpu
