// CPU kernels of conv2d, the readable reference for the cuDNN half.
//
// General case: the whole batch (or a chunk of it, to bound the scratch memory) is one column
// matrix with a column per (image, output pixel): row (c, i, j), column n·Ho·Wo + p holds the
// input value under kernel tap (i, j) of channel c for pixel p of image n (im2col). Per group,
// forward is then ONE GEMM  Yt_g = W_g · col_g  giving the output channel-major (Cout, N·Ho·Wo),
// copied back to NCHW; the input gradient is  col_g = W_gᵀ · dYt_g  followed by col2im (scatter-
// add back to the image); the weight gradient is  dW_g = dYt_g · col_gᵀ,  the batch sum done by
// the GEMM itself. 1x1 stride-1 unpadded convolutions need no im2col: their column matrix is the
// input with its N and C axes swapped. One GEMM per batch rather than one per image matters at
// small resolutions: at 32x32 input EfficientNet's later stages are 2x2 and 1x1, where per-image
// GEMMs were all BLAS call and packing overhead; where Ho·Wo = 1 no copy is needed at all.
//
// Depthwise (one input channel per group) uses direct loops: its GEMMs would be (1 x k²) by
// (k² x Ho·Wo) products, all overhead and no reuse. Per output row and kernel tap the valid
// output columns are computed once, so the innermost loops carry no bounds checks and vectorise.
//
// Threads: the GEMMs split over OpenMP threads with single-threaded BLAS (cpu_gemm.h); the
// copies and the direct loops are OpenMP loops.
#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/core/allocator.h"
#include "framework/ops/conv2d_kernels.h"
#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_gemm.h"
#include "framework/ops/cpu_vec.h"

namespace effnet::cpu {
namespace {

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

// The image is its own column matrix (up to the N/C swap): no gather needed.
bool is_pointwise(const Conv2dGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// Images per chunk: as many as keep the column matrix plus the channel-major output within a few
// MiB (they then stay in cache between the copy and the GEMM), at least one.
int64_t images_per_chunk(const Conv2dGeometry& g, size_t elem_size) {
  constexpr int64_t kBudget = int64_t(4) << 20;
  const int64_t per_image = (g.c_in * g.kh * g.kw + g.c_out) * g.ho * g.wo * int64_t(elem_size);
  return std::clamp<int64_t>(kBudget / std::max<int64_t>(per_image, 1), 1, g.n);
}

// Output positions o in [0, out) whose input position o·stride - pad + tap lies in [0, in), as
// the half-open range [lo, hi).
struct Span {
  int64_t lo, hi;
};
Span valid_span(int64_t tap, int64_t pad, int64_t stride, int64_t in, int64_t out) {
  const int64_t first = pad - tap;  // smallest o·stride allowed
  const int64_t lo = first > 0 ? (first + stride - 1) / stride : 0;
  const int64_t last = in - 1 + pad - tap;  // largest o·stride allowed
  const int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {lo, std::max(lo, hi)};
}
// The valid output columns of each kernel column j.
std::vector<Span> column_spans(const Conv2dGeometry& g) {
  std::vector<Span> cols(size_t(g.kw));
  for (int64_t j = 0; j < g.kw; ++j) cols[size_t(j)] = valid_span(j, g.pad_w, g.stride_w, g.w, g.wo);
  return cols;
}

// Copies n values; the plane sizes of the small stages (1, 2x2) get fixed-size copies instead of
// a memcpy call each.
template <class T>
EFFNET_INLINE inline void copy_run(const T* src, T* dst, int64_t n) {
  switch (n) {
    case 1: dst[0] = src[0]; return;
    case 4: std::memcpy(dst, src, 4 * sizeof(T)); return;
    default: std::memcpy(dst, src, size_t(n) * sizeof(T));
  }
}

// (N, C, HW) images n0..n0+nb -> channel-major (C, nb·HW), and back. Threads take blocks of
// channels; per image a block is one contiguous run on the NCHW side.
template <class T>
void images_to_channels(const T* src, T* dst, int64_t n0, int64_t nb, int64_t c, int64_t hw) {
  const int64_t L = nb * hw;
  parallel_for(c, std::max<int64_t>(1, 32768 / L), [&](int64_t c0, int64_t c1) EFFNET_INLINE {
    for (int64_t j = 0; j < nb; ++j) {
      const T* s = src + (n0 + j) * c * hw;
      for (int64_t ch = c0; ch < c1; ++ch) copy_run(s + ch * hw, dst + ch * L + j * hw, hw);
    }
  });
}
template <class T>
void channels_to_images(const T* src, T* dst, int64_t n0, int64_t nb, int64_t c, int64_t hw) {
  const int64_t L = nb * hw;
  parallel_for(c, std::max<int64_t>(1, 32768 / L), [&](int64_t c0, int64_t c1) EFFNET_INLINE {
    for (int64_t j = 0; j < nb; ++j) {
      T* d = dst + (n0 + j) * c * hw;
      for (int64_t ch = c0; ch < c1; ++ch) copy_run(src + ch * L + j * hw, d + ch * hw, hw);
    }
  });
}

// Row r = (c, i, j) of one image's column matrix: out[oh·Wo + ow] = x[c, oh·sh - ph + i, ow·sw - pw + j],
// 0 in the padding.
template <class T>
void im2col_row(const T* x, T* out, int64_t r, const Conv2dGeometry& g) {
  const int64_t c = r / (g.kh * g.kw), i = (r / g.kw) % g.kh, j = r % g.kw;
  const T* plane = x + c * g.h * g.w;
  const Span cols = valid_span(j, g.pad_w, g.stride_w, g.w, g.wo);
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    T* out_row = out + oh * g.wo;
    const int64_t ih = oh * g.stride_h - g.pad_h + i;
    if (ih < 0 || ih >= g.h) {
      std::fill(out_row, out_row + g.wo, T(0));
      continue;
    }
    const int64_t off = ih * g.w + j - g.pad_w;  // plane[off + ow·sw] for ow in cols
    std::fill(out_row, out_row + cols.lo, T(0));
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) out_row[ow] = plane[off + ow * g.stride_w];
    std::fill(out_row + cols.hi, out_row + g.wo, T(0));
  }
}

// The column matrix (C·kh·kw, nb·Ho·Wo) of images n0..n0+nb.
template <class T>
void build_columns(const T* x, int64_t n0, int64_t nb, T* col, const Conv2dGeometry& g) {
  const int64_t howo = g.ho * g.wo, L = nb * howo, rows = g.c_in * g.kh * g.kw;
  if (is_pointwise(g)) {
    images_to_channels(x, col, n0, nb, g.c_in, howo);
    return;
  }
#pragma omp parallel for collapse(2) if (rows * L > 32768)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < nb; ++j) im2col_row(x + (n0 + j) * g.c_in * g.h * g.w, col + r * L + j * howo, r, g);
}

// The adjoint of im2col for one (image, channel) plane: adds every column entry back onto the pixel
// it was read from. `col` points at the image's first column; rows are `ld` apart.
template <class T>
void col2im_plane(const T* col, int64_t ld, int64_t c, T* plane, const Conv2dGeometry& g) {
  std::fill(plane, plane + g.h * g.w, T(0));
  for (int64_t i = 0; i < g.kh; ++i) {
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* in = col + ((c * g.kh + i) * g.kw + j) * ld;
      const Span cols = valid_span(j, g.pad_w, g.stride_w, g.w, g.wo);
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i;
        if (ih < 0 || ih >= g.h) continue;
        const int64_t off = ih * g.w + j - g.pad_w;
        const T* in_row = in + oh * g.wo;
        for (int64_t ow = cols.lo; ow < cols.hi; ++ow) plane[off + ow * g.stride_w] += in_row[ow];
      }
    }
  }
}

// ---- general (im2col + GEMM) path ---------------------------------------------------------------
// Where Ho·Wo = 1 and the convolution is a plain 1x1, the NCHW tensors already are (N, C) matrices
// and each pass is one GEMM on them directly.
bool is_dense(const Conv2dGeometry& g) { return is_pointwise(g) && g.h * g.w == 1 && g.groups == 1; }

template <class T>
void forward_gemm(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  if (is_dense(g)) {  // Y (N, Cout) = X (N, Cin) · Wᵀ
    parallel_gemm(false, true, g.n, g.c_out, g.c_in, T(1), x, g.c_in, w, g.c_in, T(0), y, g.c_out);
    return;
  }
  const int64_t cg_out = g.c_out_per_group(), k = g.c_in_per_group() * g.kh * g.kw, howo = g.ho * g.wo;
  const bool pointwise = is_pointwise(g);
  const int64_t nb_max = images_per_chunk(g, sizeof(T));
  Scratch<T> col_buf(pointwise && nb_max == 1 ? 0 : g.c_in * g.kh * g.kw * nb_max * howo);
  Scratch<T> out_buf(nb_max == 1 ? 0 : g.c_out * nb_max * howo);
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.n - n0), L = nb * howo;
    // With one image per chunk the channel-major layouts are the NCHW ones: no copies.
    const T* cols = col_buf.get();
    if (pointwise && nb == 1) cols = x + n0 * g.c_in * g.h * g.w;
    else build_columns(x, n0, nb, col_buf.get(), g);
    T* yt = nb == 1 ? y + n0 * g.c_out * howo : out_buf.get();
    for (int64_t grp = 0; grp < g.groups; ++grp)
      parallel_gemm(false, false, cg_out, L, k, T(1), w + grp * cg_out * k, k, cols + grp * k * L, L, T(0),
                    yt + grp * cg_out * L, L);
    if (nb > 1) channels_to_images(yt, y, n0, nb, g.c_out, howo);
  }
}

template <class T>
void backward_input_gemm(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  if (is_dense(g)) {  // dX (N, Cin) = dY (N, Cout) · W
    parallel_gemm(false, false, g.n, g.c_in, g.c_out, T(1), gy, g.c_out, w, g.c_in, T(0), gx, g.c_in);
    return;
  }
  const int64_t cg_out = g.c_out_per_group(), k = g.c_in_per_group() * g.kh * g.kw, howo = g.ho * g.wo;
  const int64_t chw_in = g.c_in * g.h * g.w;
  const bool pointwise = is_pointwise(g);
  const int64_t nb_max = images_per_chunk(g, sizeof(T));
  Scratch<T> col_buf(pointwise && nb_max == 1 ? 0 : g.c_in * g.kh * g.kw * nb_max * howo);
  Scratch<T> grad_buf(nb_max == 1 ? 0 : g.c_out * nb_max * howo);
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.n - n0), L = nb * howo;
    const T* gyt = gy + n0 * g.c_out * howo;
    if (nb > 1) {
      images_to_channels(gy, grad_buf.get(), n0, nb, g.c_out, howo);
      gyt = grad_buf.get();
    }
    T* cols = pointwise && nb == 1 ? gx + n0 * chw_in : col_buf.get();
    for (int64_t grp = 0; grp < g.groups; ++grp)
      parallel_gemm(true, false, k, L, cg_out, T(1), w + grp * cg_out * k, k, gyt + grp * cg_out * L, L, T(0),
                    cols + grp * k * L, L);
    if (pointwise) {
      if (nb > 1) channels_to_images(cols, gx, n0, nb, g.c_in, howo);
      continue;
    }
#pragma omp parallel for collapse(2) if (g.c_in * g.kh * g.kw * L > 32768)
    for (int64_t j = 0; j < nb; ++j)
      for (int64_t c = 0; c < g.c_in; ++c)
        col2im_plane(cols + j * howo, L, c, gx + (n0 + j) * chw_in + c * g.h * g.w, g);
  }
}

template <class T>
void backward_weight_gemm(const T* gy, const T* x, T* gw, const Conv2dGeometry& g) {
  if (is_dense(g)) {  // dW (Cout, Cin) = dYᵀ · X
    parallel_gemm(true, false, g.c_out, g.c_in, g.n, T(1), gy, g.c_out, x, g.c_in, T(0), gw, g.c_in);
    return;
  }
  const int64_t cg_out = g.c_out_per_group(), k = g.c_in_per_group() * g.kh * g.kw, howo = g.ho * g.wo;
  const bool pointwise = is_pointwise(g);
  const int64_t nb_max = images_per_chunk(g, sizeof(T));
  Scratch<T> col_buf(pointwise && nb_max == 1 ? 0 : g.c_in * g.kh * g.kw * nb_max * howo);
  Scratch<T> grad_buf(nb_max == 1 ? 0 : g.c_out * nb_max * howo);
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.n - n0), L = nb * howo;
    const T* gyt = gy + n0 * g.c_out * howo;
    if (nb > 1) {
      images_to_channels(gy, grad_buf.get(), n0, nb, g.c_out, howo);
      gyt = grad_buf.get();
    }
    const T* cols = col_buf.get();
    if (pointwise && nb == 1) cols = x + n0 * g.c_in * g.h * g.w;
    else build_columns(x, n0, nb, col_buf.get(), g);
    // The first chunk overwrites dW, later ones add to it.
    for (int64_t grp = 0; grp < g.groups; ++grp)
      parallel_gemm(false, true, cg_out, k, L, T(1), gyt + grp * cg_out * L, L, cols + grp * k * L, L,
                    n0 == 0 ? T(0) : T(1), gw + grp * cg_out * k, k);
  }
}

// ---- depthwise direct path ----------------------------------------------------------------------
// Output channel oc reads input channel oc / multiplier (multiplier = c_out / c_in, usually 1).
// Loop order per plane: output row, kernel row, kernel column, then the valid output columns, so
// the innermost loop is an axpy (stride 1: contiguous on both sides).

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
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      T* out_row = out + oh * g.wo;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          const T kv = k[i * g.kw + j];
          const int64_t off = ih * g.w + j - g.pad_w;  // plane[off + ow·sw] is the tap's input
          const Span s = cols[size_t(j)];
          if (sw == 1) {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) out_row[ow] += kv * plane[off + ow];
          } else {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) out_row[ow] += kv * plane[off + ow * sw];
          }
        }
      }
    }
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
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        const T* grad_row = grad + oh * g.wo;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const T kv = k[i * g.kw + j];
            const int64_t off = ih * g.w + j - g.pad_w;
            const Span s = cols[size_t(j)];
            if (sw == 1) {
              for (int64_t ow = s.lo; ow < s.hi; ++ow) plane[off + ow] += kv * grad_row[ow];
            } else {
              for (int64_t ow = s.lo; ow < s.hi; ++ow) plane[off + ow * sw] += kv * grad_row[ow];
            }
          }
        }
      }
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
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        const T* grad_row = grad + oh * g.wo;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t off = ih * g.w + j - g.pad_w;
            const Span s = cols[size_t(j)];
            T dot = T(0);
            if (sw == 1) {
#pragma omp simd reduction(+ : dot)
              for (int64_t ow = s.lo; ow < s.hi; ++ow) dot += grad_row[ow] * plane[off + ow];
            } else {
#pragma omp simd reduction(+ : dot)
              for (int64_t ow = s.lo; ow < s.hi; ++ow) dot += grad_row[ow] * plane[off + ow * sw];
            }
            part[size_t(i * g.kw + j)] += dot;
          }
        }
      }
      for (int64_t t = 0; t < taps; ++t) acc[size_t(t)] += double(part[size_t(t)]);
    }
    for (int64_t t = 0; t < taps; ++t) gw[oc * taps + t] = T(acc[size_t(t)]);
  }
}

// ---- depthwise, channels last ------------------------------------------------------------------
// For c_out == c_in (EfficientNet's case) each image is transposed to (H, W, C) and, per output
// pixel and kernel tap, the innermost loop runs over the channels: contiguous, as long as C, and
// free of bounds checks at any spatial size. The plane-wise loops above degenerate at small
// resolutions (at 32x32 input the later stages are 2x2 and 1x1 planes under 5x5 kernels: all loop
// overhead); the transposes cost two passes over the data against kh·kw multiply-adds per value.
bool channels_last(const Conv2dGeometry& g) { return g.c_out == g.c_in; }

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

template <class T>
void forward_depthwise_cl(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  const int64_t C = g.c_in, hw = g.h * g.w, howo = g.ho * g.wo, taps = g.kh * g.kw;
  const int64_t sw = g.stride_w;
  const std::vector<Span> cols = column_spans(g);
  Scratch<T> wt(taps * C);  // (taps, C)
  transpose_serial(w, wt.get(), C, taps);
  const int threads = image_threads(g);
  Scratch<T> buf(threads * (hw + howo) * C);
  for_image_chunks(g, threads, [&](int t, int64_t n0, int64_t n1) EFFNET_INLINE {
    T* xt = buf.get() + t * (hw + howo) * C;
    T* yt = xt + hw * C;
    for (int64_t n = n0; n < n1; ++n) {
      transpose_serial(x + n * C * hw, xt, C, hw);
      for (int64_t p = 0; p < howo; ++p) {
        if (bias) std::copy(bias, bias + C, yt + p * C);
        else std::fill(yt + p * C, yt + (p + 1) * C, T(0));
      }
      for_each_row_tap(g, cols, [&](int64_t tap, int64_t in_pixel, int64_t out_pixel, int64_t count) EFFNET_INLINE {
        const T* k = wt.get() + tap * C;
        for (int64_t t = 0; t < count; ++t) {
          const T* __restrict src = xt + (in_pixel + t * sw) * C;
          T* __restrict dst = yt + (out_pixel + t) * C;
          for (int64_t c = 0; c < C; ++c) dst[c] += k[c] * src[c];
        }
      });
      transpose_serial(yt, y + n * C * howo, howo, C);
    }
  });
}

template <class T>
void backward_input_depthwise_cl(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const int64_t C = g.c_in, hw = g.h * g.w, howo = g.ho * g.wo, taps = g.kh * g.kw;
  const int64_t sw = g.stride_w;
  const std::vector<Span> cols = column_spans(g);
  Scratch<T> wt(taps * C);
  transpose_serial(w, wt.get(), C, taps);
  const int threads = image_threads(g);
  Scratch<T> buf(threads * (hw + howo) * C);
  for_image_chunks(g, threads, [&](int t, int64_t n0, int64_t n1) EFFNET_INLINE {
    T* gxt = buf.get() + t * (hw + howo) * C;
    T* gyt = gxt + hw * C;
    for (int64_t n = n0; n < n1; ++n) {
      transpose_serial(gy + n * C * howo, gyt, C, howo);
      std::fill(gxt, gxt + hw * C, T(0));
      for_each_row_tap(g, cols, [&](int64_t tap, int64_t in_pixel, int64_t out_pixel, int64_t count) EFFNET_INLINE {
        const T* k = wt.get() + tap * C;
        for (int64_t t = 0; t < count; ++t) {
          const T* __restrict src = gyt + (out_pixel + t) * C;
          T* __restrict dst = gxt + (in_pixel + t * sw) * C;
          for (int64_t c = 0; c < C; ++c) dst[c] += k[c] * src[c];
        }
      });
      transpose_serial(gxt, gx + n * C * hw, hw, C);
    }
  });
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

template <class T>
void add_bias(const T* bias, T* y, const Conv2dGeometry& g) {
  const int64_t howo = g.ho * g.wo;
#pragma omp parallel for if (g.n * g.c_out * howo > 32768)
  for (int64_t nc = 0; nc < g.n * g.c_out; ++nc) {
    const T b = bias[nc % g.c_out];
    T* p = y + nc * howo;
    for (int64_t t = 0; t < howo; ++t) p[t] += b;
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Conv2dGeometry& g) {
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pb = bias.defined() ? bias.data<scalar_t>() : nullptr;
    if (g.depthwise() && channels_last(g)) {
      forward_depthwise_cl(x.data<scalar_t>(), w.data<scalar_t>(), pb, y.data<scalar_t>(), g);
    } else if (g.depthwise()) {
      forward_depthwise(x.data<scalar_t>(), w.data<scalar_t>(), pb, y.data<scalar_t>(), g);
    } else {
      forward_gemm(x.data<scalar_t>(), w.data<scalar_t>(), y.data<scalar_t>(), g);
      if (pb) add_bias(pb, y.data<scalar_t>(), g);
    }
  });
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (g.depthwise() && channels_last(g))
      backward_input_depthwise_cl(gy.data<scalar_t>(), w.data<scalar_t>(), gx.data<scalar_t>(), g);
    else if (g.depthwise()) backward_input_depthwise(gy.data<scalar_t>(), w.data<scalar_t>(), gx.data<scalar_t>(), g);
    else backward_input_gemm(gy.data<scalar_t>(), w.data<scalar_t>(), gx.data<scalar_t>(), g);
  });
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, Tensor& gw, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (g.depthwise() && channels_last(g))
      backward_weight_depthwise_cl(gy.data<scalar_t>(), x.data<scalar_t>(), gw.data<scalar_t>(), g);
    else if (g.depthwise()) backward_weight_depthwise(gy.data<scalar_t>(), x.data<scalar_t>(), gw.data<scalar_t>(), g);
    else backward_weight_gemm(gy.data<scalar_t>(), x.data<scalar_t>(), gw.data<scalar_t>(), g);
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
