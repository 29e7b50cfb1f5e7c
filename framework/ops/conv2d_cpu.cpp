// CPU kernels of conv2d, the readable reference for the cuDNN half: the four entry points, each
// choosing one of three algorithms for the geometry (conv2d_cpu_algorithms.h lists their files):
//   depthwise, c_out == c_in         direct loops on channels-last copies (conv2d_cpu_depthwise_cl.cpp)
//   depthwise, c_out = m·c_in, m > 1  direct loops over NCHW planes (conv2d_cpu_depthwise.cpp)
//   everything else                  im2col + GEMM (conv2d_cpu_gemm.cpp)
// The naive direct-loop convolution in tests/test_conv2d.cpp is the oracle they are checked against.
#include "framework/ops/conv2d_cpu_algorithms.h"
#include "framework/ops/conv2d_kernels.h"

namespace effnet::cpu {
using namespace conv2d_detail;
namespace {

// The algorithm for the geometry (the list above) in T.
template <class T>
const Passes<T>& algorithm_for(const Conv2dGeometry& g) {
  if (!g.depthwise()) return gemm_algorithm.passes<T>();
  return (channels_last(g) ? depthwise_cl_algorithm : depthwise_algorithm).passes<T>();
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Conv2dGeometry& g) {
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    algorithm_for<T>(g).forward(x.data<T>(), w.data<T>(), pb, y.data<T>(), g);
    // The GEMM and channels-last algorithms apply the activation in their output pass; the
    // plane-wise depthwise one leaves it to one pass here.
    if (g.depthwise() && !channels_last(g) && g.activation != FusedActivation::None)
      bias_activation<T>(y.data<T>(), nullptr, g.n * g.c_out, g.ho * g.wo, g.c_out, g.activation);
  });
}

void conv2d_forward_scaled_input(const Tensor& x, const Tensor& scale, const Tensor& w, const Tensor& bias, Tensor& y,
                                 const Conv2dGeometry& g) {
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    forward_pointwise_scaled<T>(x.data<T>(), scale.data<T>(), w.data<T>(), pb, y.data<T>(), g);
  });
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    algorithm_for<T>(g).backward_input(gy.data<T>(), w.data<T>(), gx.data<T>(), g);
  });
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, Tensor& gw, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    algorithm_for<T>(g).backward_weight(gy.data<T>(), x.data<T>(), gw.data<T>(), g);
  });
}

void conv2d_backward_bias(const Tensor& gy, Tensor& gb, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pg = gy.data<scalar_t>();
    scalar_t* pb = gb.data<scalar_t>();
    const int64_t howo = g.ho * g.wo;
#pragma omp parallel for if (g.n * g.c_out * howo > 32768)
    for (int64_t c = 0; c < g.c_out; ++c) {
      double acc = 0.0;
      for (int64_t n = 0; n < g.n; ++n) {
        const scalar_t* p = pg + (n * g.c_out + c) * howo;
        for (int64_t t = 0; t < howo; ++t) acc += double(p[t]);
      }
      pb[c] = scalar_t(acc);
    }
  });
}

}  // namespace effnet::cpu
