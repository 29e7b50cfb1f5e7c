// The CPU algorithms of conv2d, shared by the files that hold them (internal to framework/ops):
//   conv2d_cpu.cpp              the four entry points: each picks an algorithm for the geometry
//   conv2d_cpu_gemm.cpp         im2col + GEMM, with the pointwise (1x1) and dense (1x1 on 1x1) cases
//   conv2d_cpu_depthwise.cpp    direct loops over NCHW planes (depthwise with a channel multiplier)
//   conv2d_cpu_depthwise_cl.cpp direct loops over channels-last copies (depthwise, c_out == c_in)
// Each algorithm is checked against the naive direct-loop convolution in tests/test_conv2d.cpp,
// the oracle (forward values in float32 and float64, gradients by central differences).
//
// Conventions of every pass: contiguous NCHW tensors already validated by conv2d.cpp, outputs
// fully overwritten. Each file defines its passes in an anonymous namespace and exports them as
// one Algorithm table, instantiated for float and double.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "framework/core/allocator.h"
#include "framework/ops/conv2d_kernels.h"

namespace effnet::cpu::conv2d_detail {

// Host scratch memory from the tensor allocator, released on scope exit.
template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t n) : p_(static_cast<T*>(cpu_allocate(size_t(n) * sizeof(T)))) {}
  ~Scratch() { cpu_free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

// Output positions o in [0, out) whose input position o·stride - pad + tap lies in [0, in), as
// the half-open range [lo, hi).
struct Span {
  int64_t lo, hi;
};
inline Span valid_span(int64_t tap, int64_t pad, int64_t stride, int64_t in, int64_t out) {
  const int64_t first = pad - tap;  // smallest o·stride allowed
  const int64_t lo = first > 0 ? (first + stride - 1) / stride : 0;
  const int64_t last = in - 1 + pad - tap;  // largest o·stride allowed
  const int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {lo, std::max(lo, hi)};
}
// The valid output columns of each kernel column j.
inline std::vector<Span> column_spans(const Conv2dGeometry& g) {
  std::vector<Span> cols(size_t(g.kw));
  for (int64_t j = 0; j < g.kw; ++j) cols[size_t(j)] = valid_span(j, g.pad_w, g.stride_w, g.w, g.wo);
  return cols;
}

// The output pass after a product: y = act(y + bias[c]) over `runs` runs of `len` values, run r
// belonging to channel r % c_out (so one pass serves NCHW output, runs = N·Cout of Ho·Wo, and a
// channel-major chunk, runs = Cout of nb·Ho·Wo). Bias null: none. The activation formulas are
// unary_kernels.h's, the ones the separate ops and the CUDA kernels use.
template <class T>
void bias_activation(T* y, const T* bias, int64_t runs, int64_t len, int64_t c_out, FusedActivation act);

// The pointwise (1x1, stride 1, unpadded, one group) forward of x · scale[n, c], scale (N, Cin):
// conv2d_scaled_input (conv2d.h), in conv2d_cpu_gemm.cpp.
template <class T>
void forward_pointwise_scaled(const T* x, const T* scale, const T* w, const T* bias, T* y, const Conv2dGeometry& g);

// The three passes of one algorithm for elements of type T. forward adds the bias (null: none);
// the GEMM and channels-last algorithms also apply g.activation in their output pass, the
// plane-wise depthwise one leaves it to the caller (conv2d_cpu.cpp).
template <class T>
struct Passes {
  void (*forward)(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g);
  void (*backward_input)(const T* gy, const T* w, T* gx, const Conv2dGeometry& g);
  void (*backward_weight)(const T* gy, const T* x, T* gw, const Conv2dGeometry& g);
};

// One algorithm: its passes in float and double, a table the entry points pick from.
struct Algorithm {
  Passes<float> f32;
  Passes<double> f64;
  template <class T>
  const Passes<T>& passes() const {
    if constexpr (std::is_same_v<T, float>) return f32;
    else return f64;
  }
};

// im2col + GEMM (conv2d_cpu_gemm.cpp): any geometry.
extern const Algorithm gemm_algorithm;
// Depthwise on NCHW planes (conv2d_cpu_depthwise.cpp): g.depthwise().
extern const Algorithm depthwise_algorithm;
// Depthwise on channels-last copies (conv2d_cpu_depthwise_cl.cpp): g.depthwise() and no channel
// multiplier.
inline bool channels_last(const Conv2dGeometry& g) { return g.c_out == g.c_in; }
extern const Algorithm depthwise_cl_algorithm;

}  // namespace effnet::cpu::conv2d_detail
