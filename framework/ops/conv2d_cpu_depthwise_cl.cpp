// conv2d on the CPU, depthwise without a channel multiplier (c_out == c_in, EfficientNet's case),
// on channels-last copies: each image is transposed to (H, W, C) and, per output pixel and kernel
// tap, the innermost loop runs over the channels: contiguous, as long as C, and free of bounds
// checks at any spatial size. The plane-wise loops of conv2d_cpu_depthwise.cpp degenerate at small
// resolutions (at 32x32 input the later stages are 2x2 and 1x1 planes under 5x5 kernels: all loop
// overhead); the transposes cost two passes over the data against kh·kw multiply-adds per value.
//
// Forward and backward-input are one walk (depthwise_cl_walk): the same (tap, input pixel, output
// pixel) pairs, read on one side and accumulated on the other. Threads: one block of images per
// OpenMP thread, each through vectorised() (AVX2 + FMA where the CPU has it).
#include <algorithm>
#include <vector>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/conv2d_cpu_algorithms.h"
#include "framework/ops/cpu_vec.h"

namespace effnet::cpu::conv2d_detail {
namespace {

// Kernel taps t in [lo, hi) whose input position o·stride - pad + t lies inside [0, in).
EFFNET_INLINE inline Span valid_taps(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  const int64_t base = o * stride - pad;
  const int64_t lo = std::max<int64_t>(0, -base), hi = std::min(k, in - base);
  return {lo, std::max(lo, hi)};
}

// Calls f(tap, in_pixel, out_pixel, count) for every output row and kernel tap: output pixels
// out_pixel .. out_pixel + count - 1 of that row read input pixels in_pixel + t·stride_w
// (t < count), all inside the image; tap = i·kw + j, pixels are row-major (ih·W + iw, oh·Wo + ow).
// Per row and tap, rather than per pixel and tap, so that the bookkeeping is paid once per run.
template <class F>
EFFNET_INLINE inline void for_each_row_tap(const Conv2dGeometry& g, const std::vector<Span>& cols, F&& f) {
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    const Span ti = valid_taps(oh, g.stride_h, g.pad_h, g.kh, g.h);
    for (int64_t i = ti.lo; i < ti.hi; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i;
      for (int64_t j = 0; j < g.kw; ++j) {
        const Span s = cols[size_t(j)];  // output columns whose tap j lands inside the row
        if (s.lo < s.hi)
          f(i * g.kw + j, ih * g.w + s.lo * g.stride_w - g.pad_w + j, oh * g.wo + s.lo, s.hi - s.lo);
      }
    }
  }
}

// Threads for a per-image loop of this much work.
int image_threads(const Conv2dGeometry& g) {
  const int64_t work = g.n * g.c_out * g.ho * g.wo * g.kh * g.kw;
  return int(std::min<int64_t>(work > 32768 ? cpu_threads() : 1, g.n));
}

// f(t, n0, n1): thread t of `threads` handles images [n0, n1), through vectorised() (so f must be
// EFFNET_INLINE).
template <class F>
void for_image_chunks(const Conv2dGeometry& g, int threads, F&& f) {
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t n0 = g.n * t / nt, n1 = g.n * (t + 1) / nt;
    if (n0 < n1) vectorised([&](int64_t lo, int64_t hi) EFFNET_INLINE { f(t, lo, hi); }, n0, n1);
  }
}

// Which way a walk moves values along the (tap, input pixel, output pixel) pairs of the conv.
enum class Flow {
  kGather,   // forward: output pixel += tap weight · input pixel
  kScatter,  // backward-input: input pixel += tap weight · output-pixel gradient
};

// The one tap walk of forward and backward-input. Backward-input is the adjoint of forward: the
// same pairs, with the roles of the side read and the side accumulated into swapped. It is kept
// in that scatter form rather than rewritten as a correlation of dY with the flipped kernel, which
// would sum each dX value's terms in another order (and need the taps split by stride phase).
// src (N, C, src pixels) and dst (N, C, dst pixels) are NCHW; gather: src = x, dst = y;
// scatter: src = dY, dst = dX. dst is fully overwritten: y starts from bias (C) when given, else
// from 0, and ends through g.activation; dX from 0 (bias and activation are not used).
template <Flow kFlow, class T>
void depthwise_cl_walk(const T* src, const T* w, const T* bias, T* dst, const Conv2dGeometry& g) {
  constexpr bool gather = kFlow == Flow::kGather;
  const int64_t C = g.c_in, hw = g.h * g.w, howo = g.ho * g.wo, taps = g.kh * g.kw;
  const int64_t sw = g.stride_w;
  const int64_t src_pixels = gather ? hw : howo, dst_pixels = gather ? howo : hw;
  const std::vector<Span> cols = column_spans(g);
  Scratch<T> wt(taps * C);  // (taps, C)
  transpose_serial(w, wt.get(), C, taps);
  const int threads = image_threads(g);
  Scratch<T> buf(threads * (hw + howo) * C);
  for_image_chunks(g, threads, [&](int t, int64_t n0, int64_t n1) EFFNET_INLINE {
    T* in_side = buf.get() + t * (hw + howo) * C;  // (H·W, C): x or dX
    T* out_side = in_side + hw * C;                // (Ho·Wo, C): y or dY
    T* src_t = gather ? in_side : out_side;
    T* dst_t = gather ? out_side : in_side;
    for (int64_t n = n0; n < n1; ++n) {
      transpose_serial(src + n * C * src_pixels, src_t, C, src_pixels);
      if constexpr (gather) {  // each y pixel starts from the bias, or 0
        for (int64_t p = 0; p < dst_pixels; ++p) {
          if (bias) std::copy(bias, bias + C, dst_t + p * C);
          else std::fill(dst_t + p * C, dst_t + (p + 1) * C, T(0));
        }
      } else {  // dX starts from 0
        std::fill(dst_t, dst_t + dst_pixels * C, T(0));
      }
      for_each_row_tap(g, cols, [&](int64_t tap, int64_t in_pixel, int64_t out_pixel, int64_t count) EFFNET_INLINE {
        const T* k = wt.get() + tap * C;
        for (int64_t q = 0; q < count; ++q) {
          const int64_t in_at = (in_pixel + q * sw) * C, out_at = (out_pixel + q) * C;
          const T* __restrict s = src_t + (gather ? in_at : out_at);
          T* __restrict d = dst_t + (gather ? out_at : in_at);
          for (int64_t c = 0; c < C; ++c) d[c] += k[c] * s[c];
        }
      });
      // The fused activation while the image's output is in cache, before it goes back to NCHW.
      if (gather && g.activation != FusedActivation::None)
        bias_activation<T>(dst_t, nullptr, 1, dst_pixels * C, 1, g.activation);
      transpose_serial(dst_t, dst + n * C * dst_pixels, dst_pixels, C);
    }
  });
}

template <class T>
void forward_depthwise_cl(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  depthwise_cl_walk<Flow::kGather>(x, w, bias, y, g);
}

template <class T>
void backward_input_depthwise_cl(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  depthwise_cl_walk<Flow::kScatter>(gy, w, static_cast<const T*>(nullptr), gx, g);
}

// Per thread: sums over its images, per image in T (at most Ho·Wo products per tap and channel),
// across images in double; the per-thread sums are then added in thread order, so the result
// depends only on the thread count.
template <class T>
void backward_weight_depthwise_cl(const T* gy, const T* x, T* gw, const Conv2dGeometry& g) {
  const int64_t C = g.c_in, hw = g.h * g.w, howo = g.ho * g.wo, taps = g.kh * g.kw;
  const int64_t sw = g.stride_w;
  const std::vector<Span> cols = column_spans(g);
  const int threads = image_threads(g);
  Scratch<T> buf(threads * (hw + howo + taps) * C);
  Scratch<double> acc(threads * taps * C);
  std::fill(acc.get(), acc.get() + threads * taps * C, 0.0);
  for_image_chunks(g, threads, [&](int t, int64_t n0, int64_t n1) EFFNET_INLINE {
    T* xt = buf.get() + t * (hw + howo + taps) * C;
    T* gyt = xt + hw * C;
    T* part = gyt + howo * C;
    double* sum = acc.get() + t * taps * C;
    for (int64_t n = n0; n < n1; ++n) {
      transpose_serial(x + n * C * hw, xt, C, hw);
      transpose_serial(gy + n * C * howo, gyt, C, howo);
      std::fill(part, part + taps * C, T(0));
      for_each_row_tap(g, cols, [&](int64_t tap, int64_t in_pixel, int64_t out_pixel, int64_t count) EFFNET_INLINE {
        T* __restrict dst = part + tap * C;
        for (int64_t t = 0; t < count; ++t) {
          const T* __restrict a = xt + (in_pixel + t * sw) * C;
          const T* __restrict b = gyt + (out_pixel + t) * C;
          for (int64_t c = 0; c < C; ++c) dst[c] += a[c] * b[c];
        }
      });
      for (int64_t q = 0; q < taps * C; ++q) sum[q] += double(part[q]);
    }
  });
  for (int64_t c = 0; c < C; ++c)
    for (int64_t tap = 0; tap < taps; ++tap) {
      double s = 0.0;
      for (int t = 0; t < threads; ++t) s += acc.get()[(t * taps + tap) * C + c];
      gw[c * taps + tap] = T(s);
    }
}

}  // namespace

const Algorithm depthwise_cl_algorithm = {
    {forward_depthwise_cl<float>, backward_input_depthwise_cl<float>, backward_weight_depthwise_cl<float>},
    {forward_depthwise_cl<double>, backward_input_depthwise_cl<double>, backward_weight_depthwise_cl<double>}};

}  // namespace effnet::cpu::conv2d_detail
