// conv2d's output pass on the CPU (conv2d_cpu_algorithms.h): bias and fused activation in one
// sweep, so that an inference convolution followed by its (folded) batch norm and activation
// touches its output once instead of three times.
#include "framework/core/cpu_parallel.h"
#include "framework/ops/conv2d_cpu_algorithms.h"
#include "framework/ops/unary_kernels.h"

namespace effnet::cpu::conv2d_detail {
namespace {

template <class T, class F>
void runs_loop(T* y, const T* bias, int64_t runs, int64_t len, int64_t c_out, F f) {
  parallel_for(runs, std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1)), [=](int64_t r0, int64_t r1) EFFNET_INLINE {
    for (int64_t r = r0; r < r1; ++r) {
      const T b = bias ? bias[r % c_out] : T(0);
      T* p = y + r * len;
      for (int64_t t = 0; t < len; ++t) p[t] = f(p[t] + b);
    }
  });
}

template <class T, UnaryOp OP>
struct Act {
  EFFNET_INLINE T operator()(T v) const { return unary_forward<T, OP>(v, T(0), T(0)); }
};

}  // namespace

template <class T>
void bias_activation(T* y, const T* bias, int64_t runs, int64_t len, int64_t c_out, FusedActivation act) {
  switch (act) {
    case FusedActivation::None:
      if (bias) runs_loop(y, bias, runs, len, c_out, [](T v) EFFNET_INLINE { return v; });
      return;
    case FusedActivation::Silu: return runs_loop(y, bias, runs, len, c_out, Act<T, UnaryOp::Silu>{});
    case FusedActivation::Relu6: return runs_loop(y, bias, runs, len, c_out, Act<T, UnaryOp::Relu6>{});
    case FusedActivation::Relu: return runs_loop(y, bias, runs, len, c_out, Act<T, UnaryOp::Relu>{});
    case FusedActivation::Sigmoid: return runs_loop(y, bias, runs, len, c_out, Act<T, UnaryOp::Sigmoid>{});
  }
}

template void bias_activation<float>(float*, const float*, int64_t, int64_t, int64_t, FusedActivation);
template void bias_activation<double>(double*, const double*, int64_t, int64_t, int64_t, FusedActivation);

}  // namespace effnet::cpu::conv2d_detail
