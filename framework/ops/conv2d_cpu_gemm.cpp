// conv2d on the CPU by im2col + GEMM: every geometry that is not depthwise.
//
// The whole batch (or a chunk of it, to bound the scratch memory) is one column matrix with a
// column per (image, output pixel): row (c, i, j), column n·Ho·Wo + p holds the input value under
// kernel tap (i, j) of channel c for pixel p of image n (im2col). Per group, forward is then ONE
// GEMM  Yt_g = W_g · col_g  giving the output channel-major (Cout, N·Ho·Wo), copied back to NCHW;
// the input gradient is  col_g = W_gᵀ · dYt_g  followed by col2im (scatter-add back to the image);
// the weight gradient is  dW_g = dYt_g · col_gᵀ,  the batch sum done by the GEMM itself. 1x1
// stride-1 unpadded convolutions need no im2col: their column matrix is the input with its N and
// C axes swapped. One GEMM per batch rather than one per image matters at small resolutions: at
// 32x32 input EfficientNet's later stages are 2x2 and 1x1, where per-image GEMMs were all BLAS
// call and packing overhead; where Ho·Wo = 1 no copy is needed at all.
//
// Threads: the GEMMs split over OpenMP threads with single-threaded BLAS (cpu_gemm.h); the copies
// are OpenMP loops.
#include <algorithm>
#include <cstring>

#include "framework/core/cpu_parallel.h"
#include "framework/ops/conv2d_cpu_algorithms.h"
#include "framework/ops/cpu_gemm.h"

namespace effnet::cpu::conv2d_detail {
namespace {

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

// Where Ho·Wo = 1 and the convolution is a plain 1x1, the NCHW tensors already are (N, C) matrices
// and each pass is one GEMM on them directly.
bool is_dense(const Conv2dGeometry& g) { return is_pointwise(g) && g.h * g.w == 1 && g.groups == 1; }

// The chunking of a pass over the batch and its scratch: `col` for the column matrix and `chan`
// for the channel-major (c_out, nb·Ho·Wo) side. With one image per chunk the channel-major layouts
// are the NCHW ones, so `chan` is not needed, nor `col` for a pointwise conv.
template <class T>
struct Chunks {
  explicit Chunks(const Conv2dGeometry& g)
      : pointwise(is_pointwise(g)),
        nb_max(images_per_chunk(g, sizeof(T))),
        col(pointwise && nb_max == 1 ? 0 : g.c_in * g.kh * g.kw * nb_max * g.ho * g.wo),
        chan(nb_max == 1 ? 0 : g.c_out * nb_max * g.ho * g.wo) {}
  const bool pointwise;
  const int64_t nb_max;  // images per chunk
  Scratch<T> col, chan;
};

// The column matrix of images n0..n0+nb: x itself for one image of a pointwise conv, else built
// in `buf`.
template <class T>
const T* columns(const T* x, T* buf, int64_t n0, int64_t nb, const Conv2dGeometry& g) {
  if (nb == 1 && is_pointwise(g)) return x + n0 * g.c_in * g.h * g.w;
  build_columns(x, n0, nb, buf, g);
  return buf;
}

// Images n0..n0+nb of the (N, c, hw) tensor t channel-major, (c, nb·hw): t itself for one image,
// else copied into `buf`.
template <class T>
const T* channel_major(const T* t, T* buf, int64_t n0, int64_t nb, int64_t c, int64_t hw) {
  if (nb == 1) return t + n0 * c * hw;
  images_to_channels(t, buf, n0, nb, c, hw);
  return buf;
}

// The bias and g.activation are applied per chunk, right after its product, while the chunk is
// still in cache (conv2d_cpu_epilogue.cpp).
template <class T>
void forward_gemm(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  if (is_dense(g)) {  // Y (N, Cout) = X (N, Cin) · Wᵀ
    parallel_gemm(false, true, g.n, g.c_out, g.c_in, T(1), x, g.c_in, w, g.c_in, T(0), y, g.c_out);
    if (bias || g.activation != FusedActivation::None) {
      // (N, Cout) rows: channel c is column c, so the runs are single values.
      bias_activation(y, bias, g.n * g.c_out, 1, g.c_out, g.activation);
    }
  } else {
    const int64_t cg_out = g.c_out_per_group(), k = g.c_in_per_group() * g.kh * g.kw, howo = g.ho * g.wo;
    Chunks<T> chunks(g);
    for (int64_t n0 = 0; n0 < g.n; n0 += chunks.nb_max) {
      const int64_t nb = std::min(chunks.nb_max, g.n - n0), L = nb * howo;
      const T* cols = columns(x, chunks.col.get(), n0, nb, g);
      T* yt = nb == 1 ? y + n0 * g.c_out * howo : chunks.chan.get();
      for (int64_t grp = 0; grp < g.groups; ++grp)
        parallel_gemm(false, false, cg_out, L, k, T(1), w + grp * cg_out * k, k, cols + grp * k * L, L, T(0),
                      yt + grp * cg_out * L, L);
      if (bias || g.activation != FusedActivation::None) bias_activation(yt, bias, g.c_out, L, g.c_out, g.activation);
      if (nb > 1) channels_to_images(yt, y, n0, nb, g.c_out, howo);
    }
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
  Chunks<T> chunks(g);
  const bool pointwise = chunks.pointwise;
  for (int64_t n0 = 0; n0 < g.n; n0 += chunks.nb_max) {
    const int64_t nb = std::min(chunks.nb_max, g.n - n0), L = nb * howo;
    const T* gyt = channel_major(gy, chunks.chan.get(), n0, nb, g.c_out, howo);
    // A pointwise conv's column gradient is dX itself (one image) or its channel-major copy.
    T* cols = pointwise && nb == 1 ? gx + n0 * chw_in : chunks.col.get();
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
  Chunks<T> chunks(g);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunks.nb_max) {
    const int64_t nb = std::min(chunks.nb_max, g.n - n0), L = nb * howo;
    const T* gyt = channel_major(gy, chunks.chan.get(), n0, nb, g.c_out, howo);
    const T* cols = columns(x, chunks.col.get(), n0, nb, g);
    // The first chunk overwrites dW, later ones add to it.
    for (int64_t grp = 0; grp < g.groups; ++grp)
      parallel_gemm(false, true, cg_out, k, L, T(1), gyt + grp * cg_out * L, L, cols + grp * k * L, L,
                    n0 == 0 ? T(0) : T(1), gw + grp * cg_out * k, k);
  }
}

// images_to_channels with every (image, channel) plane multiplied by scale[image, channel] on the way.
template <class T>
void images_to_channels_scaled(const T* src, const T* scale, T* dst, int64_t n0, int64_t nb, int64_t c, int64_t hw) {
  const int64_t L = nb * hw;
  parallel_for(c, std::max<int64_t>(1, 32768 / L), [&](int64_t c0, int64_t c1) EFFNET_INLINE {
    for (int64_t j = 0; j < nb; ++j) {
      const T* s = src + (n0 + j) * c * hw;
      const T* f = scale + (n0 + j) * c;
      for (int64_t ch = c0; ch < c1; ++ch) {
        const T* in = s + ch * hw;
        T* out = dst + ch * L + j * hw;
        const T k = f[ch];
        for (int64_t t = 0; t < hw; ++t) out[t] = in[t] * k;
      }
    }
  });
}

}  // namespace

// The pointwise forward of x·scale (conv2d_scaled_input, conv2d.h). Dense (Ho·Wo = 1): the small
// (N, Cin) product is formed once. Chunks of several images: the scale is applied in the copy to
// channel-major columns that a chunk makes anyway. One image per chunk (x used in place): the
// weight's columns are scaled instead, Cout·Cin products per image against Cin·Ho·Wo for x.
template <class T>
void forward_pointwise_scaled(const T* x, const T* scale, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  if (is_dense(g)) {
    Scratch<T> xs(g.n * g.c_in);
    T* p = xs.get();
    parallel_for(g.n * g.c_in, 32768, [=](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t i = lo; i < hi; ++i) p[i] = x[i] * scale[i];
    });
    forward_gemm(p, w, bias, y, g);
    return;
  }
  const int64_t howo = g.ho * g.wo;
  Chunks<T> chunks(g);
  Scratch<T> ws(chunks.nb_max == 1 ? g.c_out * g.c_in : 1);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunks.nb_max) {
    const int64_t nb = std::min(chunks.nb_max, g.n - n0), L = nb * howo;
    const T* cols = chunks.col.get();
    const T* wk = w;
    if (chunks.nb_max == 1) {  // (not a last chunk of one image: it has the column buffer)
      const T* f = scale + n0 * g.c_in;
      T* p = ws.get();
      for (int64_t o = 0; o < g.c_out; ++o)
        for (int64_t c = 0; c < g.c_in; ++c) p[o * g.c_in + c] = w[o * g.c_in + c] * f[c];
      cols = x + n0 * g.c_in * howo;
      wk = p;
    } else {
      images_to_channels_scaled(x, scale, chunks.col.get(), n0, nb, g.c_in, howo);
    }
    T* yt = nb == 1 ? y + n0 * g.c_out * howo : chunks.chan.get();
    parallel_gemm(false, false, g.c_out, L, g.c_in, T(1), wk, g.c_in, cols, L, T(0), yt, L);
    if (bias || g.activation != FusedActivation::None) bias_activation(yt, bias, g.c_out, L, g.c_out, g.activation);
    if (nb > 1) channels_to_images(yt, y, n0, nb, g.c_out, howo);
  }
}
template void forward_pointwise_scaled<float>(const float*, const float*, const float*, const float*, float*,
                                              const Conv2dGeometry&);
template void forward_pointwise_scaled<double>(const double*, const double*, const double*, const double*, double*,
                                               const Conv2dGeometry&);

const Algorithm gemm_algorithm = {
    {forward_gemm<float>, backward_input_gemm<float>, backward_weight_gemm<float>},
    {forward_gemm<double>, backward_input_gemm<double>, backward_weight_gemm<double>}};

}  // namespace effnet::cpu::conv2d_detail
