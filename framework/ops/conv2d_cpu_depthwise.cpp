// conv2d on the CPU, depthwise (one input channel per group) by direct loops over NCHW planes:
// the algorithm for a channel multiplier (c_out = m·c_in, m > 1); without one the channels-last
// kernels (conv2d_cpu_depthwise_cl.cpp) are used. A depthwise conv's GEMMs would be (1 x k²) by
// (k² x Ho·Wo) products, all overhead and no reuse. Per output row and kernel tap the valid output
// columns are computed once, so the innermost loops carry no bounds checks and vectorise.
//
// Output channel oc reads input channel oc / multiplier. Loop order per plane: output row, kernel
// row, kernel column, then the valid output columns, so the innermost loop is an axpy (stride 1:
// contiguous on both sides). Threads: OpenMP loops over planes.
#include <algorithm>
#include <vector>

#include "framework/core/host_device.h"
#include "framework/ops/conv2d_cpu_algorithms.h"

namespace effnet::cpu::conv2d_detail {
namespace {

// Calls f(row, tap, off, s) for every output row oh and kernel tap (i, j) whose input row
// ih = oh·stride_h - pad_h + i lies inside the image: row = oh·Wo is the row's offset in the output
// plane, tap = i·kw + j, and plane[off + ow·stride_w] is the tap's input for the output columns ow
// in s.
template <class F>
EFFNET_INLINE inline void for_each_tap(const Conv2dGeometry& g, const std::vector<Span>& cols, F&& f) {
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) f(oh * g.wo, i * g.kw + j, ih * g.w + j - g.pad_w, cols[size_t(j)]);
    }
  }
}

template <class T>
void forward_depthwise(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in, sw = g.stride_w;
  const std::vector<Span> cols = column_spans(g);
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t nc = 0; nc < g.n * g.c_out; ++nc) {
    const int64_t n = nc / g.c_out, oc = nc % g.c_out;
    const T* plane = x + (n * g.c_in + oc / mult) * g.h * g.w;
    const T* k = w + oc * g.kh * g.kw;
    T* out = y + nc * g.ho * g.wo;
    std::fill(out, out + g.ho * g.wo, bias ? bias[oc] : T(0));
    for_each_tap(g, cols, [&](int64_t row, int64_t tap, int64_t off, Span s) EFFNET_INLINE {
      T* out_row = out + row;
      const T kv = k[tap];
      if (sw == 1) {
        for (int64_t ow = s.lo; ow < s.hi; ++ow) out_row[ow] += kv * plane[off + ow];
      } else {
        for (int64_t ow = s.lo; ow < s.hi; ++ow) out_row[ow] += kv * plane[off + ow * sw];
      }
    });
  }
}

// Scatter form, parallel over input planes: each thread owns one (n, c) plane of gx.
template <class T>
void backward_input_depthwise(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in, sw = g.stride_w;
  const std::vector<Span> cols = column_spans(g);
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t nc = 0; nc < g.n * g.c_in; ++nc) {
    const int64_t n = nc / g.c_in, c = nc % g.c_in;
    T* plane = gx + nc * g.h * g.w;
    std::fill(plane, plane + g.h * g.w, T(0));
    for (int64_t oc = c * mult; oc < (c + 1) * mult; ++oc) {
      const T* k = w + oc * g.kh * g.kw;
      const T* grad = gy + (n * g.c_out + oc) * g.ho * g.wo;
      for_each_tap(g, cols, [&](int64_t row, int64_t tap, int64_t off, Span s) EFFNET_INLINE {
        const T* grad_row = grad + row;
        const T kv = k[tap];
        if (sw == 1) {
          for (int64_t ow = s.lo; ow < s.hi; ++ow) plane[off + ow] += kv * grad_row[ow];
        } else {
          for (int64_t ow = s.lo; ow < s.hi; ++ow) plane[off + ow * sw] += kv * grad_row[ow];
        }
      });
    }
  }
}

// Parallel over output channels: each thread owns one kh x kw filter and sums over the batch, per
// image in T (at most Ho·Wo products per tap), across images in double.
template <class T>
void backward_weight_depthwise(const T* gy, const T* x, T* gw, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in, sw = g.stride_w, taps = g.kh * g.kw;
  const std::vector<Span> cols = column_spans(g);
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t oc = 0; oc < g.c_out; ++oc) {
    std::vector<double> acc(size_t(taps), 0.0);
    std::vector<T> part(static_cast<size_t>(taps));
    for (int64_t n = 0; n < g.n; ++n) {
      const T* plane = x + (n * g.c_in + oc / mult) * g.h * g.w;
      const T* grad = gy + (n * g.c_out + oc) * g.ho * g.wo;
      std::fill(part.begin(), part.end(), T(0));
      for_each_tap(g, cols, [&](int64_t row, int64_t tap, int64_t off, Span s) EFFNET_INLINE {
        const T* grad_row = grad + row;
        T dot = T(0);
        if (sw == 1) {
#pragma omp simd reduction(+ : dot)
          for (int64_t ow = s.lo; ow < s.hi; ++ow) dot += grad_row[ow] * plane[off + ow];
        } else {
#pragma omp simd reduction(+ : dot)
          for (int64_t ow = s.lo; ow < s.hi; ++ow) dot += grad_row[ow] * plane[off + ow * sw];
        }
        part[size_t(tap)] += dot;
      });
      for (int64_t t = 0; t < taps; ++t) acc[size_t(t)] += double(part[size_t(t)]);
    }
    for (int64_t t = 0; t < taps; ++t) gw[oc * taps + t] = T(acc[size_t(t)]);
  }
}

}  // namespace

const Algorithm depthwise_algorithm = {
    {forward_depthwise<float>, backward_input_depthwise<float>, backward_weight_depthwise<float>},
    {forward_depthwise<double>, backward_input_depthwise<double>, backward_weight_depthwise<double>}};

}  // namespace effnet::cpu::conv2d_detail
