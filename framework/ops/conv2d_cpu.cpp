// CPU kernels of conv2d, the readable reference for the cuDNN half.
// General case, per sample and per group: im2col turns the receptive fields into the columns of a
// (Cin/groups*kh*kw, Ho*Wo) matrix, so forward is one GEMM  Y_g = W_g · col_g,  the input gradient
// is  col_g = W_gᵀ · dY_g  followed by col2im (scatter-add back to the image), and the weight
// gradient is  dW_g += dY_g · col_gᵀ  summed over the batch. 1x1 stride-1 unpadded convolutions
// skip im2col: the image already is the column matrix.
// Depthwise (one input channel per group) uses direct loops: its GEMMs would be (1 x k²) by
// (k² x Ho*Wo) products, all overhead and no reuse.
// OpenMP parallelises the loops (im2col/col2im rows, channels, the depthwise planes); the GEMMs
// run outside parallel regions, since the pthread build of OpenBLAS threads on its own and is not
// meant to be called from inside an OpenMP team.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "framework/ops/conv2d_kernels.h"

namespace effnet::cpu {
namespace {

// Row-major C = alpha * op(A) · op(B) + beta * C.
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m),
              int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                 int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m),
              int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// The image is its own column matrix: no gather needed.
bool is_pointwise(const Conv2dGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// One sample (C, H, W) -> col (C*kh*kw, Ho*Wo); row (c, i, j) holds x[c, oh*sh - ph + i, ow*sw - pw + j]
// or 0 where that falls in the padding.
template <class T>
void im2col(const T* x, T* col, const Conv2dGeometry& g) {
  const int64_t rows = g.c_in * g.kh * g.kw, howo = g.ho * g.wo;
#pragma omp parallel for if (rows * howo > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / (g.kh * g.kw), i = (r / g.kw) % g.kh, j = r % g.kw;
    const T* plane = x + c * g.h * g.w;
    T* out = col + r * howo;
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i;
      T* out_row = out + oh * g.wo;
      if (ih < 0 || ih >= g.h) {
        std::fill(out_row, out_row + g.wo, T(0));
        continue;
      }
      const T* in_row = plane + ih * g.w;
      for (int64_t ow = 0; ow < g.wo; ++ow) {
        const int64_t iw = ow * g.stride_w - g.pad_w + j;
        out_row[ow] = (iw >= 0 && iw < g.w) ? in_row[iw] : T(0);
      }
    }
  }
}

// The adjoint of im2col: adds every column entry back onto the pixel it was read from. Parallel over
// channels, so no two threads touch the same pixel.
template <class T>
void col2im(const T* col, T* x, const Conv2dGeometry& g) {
  const int64_t howo = g.ho * g.wo;
#pragma omp parallel for if (g.c_in * g.kh * g.kw * howo > 32768)
  for (int64_t c = 0; c < g.c_in; ++c) {
    T* plane = x + c * g.h * g.w;
    std::fill(plane, plane + g.h * g.w, T(0));
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* in = col + ((c * g.kh + i) * g.kw + j) * howo;
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.h) continue;
          T* out_row = plane + ih * g.w;
          const T* in_row = in + oh * g.wo;
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            const int64_t iw = ow * g.stride_w - g.pad_w + j;
            if (iw >= 0 && iw < g.w) out_row[iw] += in_row[ow];
          }
        }
      }
    }
  }
}

// ---- general (im2col + GEMM) path ---------------------------------------------------------------
template <class T>
void forward_gemm(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  const int64_t cg_in = g.c_in_per_group(), cg_out = g.c_out_per_group();
  const int64_t k = cg_in * g.kh * g.kw, howo = g.ho * g.wo;
  const bool pointwise = is_pointwise(g);
  std::vector<T> col(pointwise ? 0 : size_t(g.c_in * g.kh * g.kw * howo));
  for (int64_t n = 0; n < g.n; ++n) {
    const T* xn = x + n * g.c_in * g.h * g.w;
    const T* cols = xn;
    if (!pointwise) {
      im2col(xn, col.data(), g);
      cols = col.data();
    }
    T* yn = y + n * g.c_out * howo;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm(false, false, cg_out, howo, k, T(1), w + grp * cg_out * k, k, cols + grp * k * howo, howo, T(0),
           yn + grp * cg_out * howo, howo);
  }
}

template <class T>
void backward_input_gemm(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const int64_t cg_in = g.c_in_per_group(), cg_out = g.c_out_per_group();
  const int64_t k = cg_in * g.kh * g.kw, howo = g.ho * g.wo;
  const bool pointwise = is_pointwise(g);
  std::vector<T> col(pointwise ? 0 : size_t(g.c_in * g.kh * g.kw * howo));
  for (int64_t n = 0; n < g.n; ++n) {
    T* gxn = gx + n * g.c_in * g.h * g.w;
    T* cols = pointwise ? gxn : col.data();
    const T* gyn = gy + n * g.c_out * howo;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm(true, false, k, howo, cg_out, T(1), w + grp * cg_out * k, k, gyn + grp * cg_out * howo, howo, T(0),
           cols + grp * k * howo, howo);
    if (!pointwise) col2im(col.data(), gxn, g);
  }
}

template <class T>
void backward_weight_gemm(const T* gy, const T* x, T* gw, const Conv2dGeometry& g) {
  const int64_t cg_in = g.c_in_per_group(), cg_out = g.c_out_per_group();
  const int64_t k = cg_in * g.kh * g.kw, howo = g.ho * g.wo;
  const bool pointwise = is_pointwise(g);
  std::vector<T> col(pointwise ? 0 : size_t(g.c_in * g.kh * g.kw * howo));
  std::fill(gw, gw + g.c_out * k, T(0));
  for (int64_t n = 0; n < g.n; ++n) {
    const T* xn = x + n * g.c_in * g.h * g.w;
    const T* cols = xn;
    if (!pointwise) {
      im2col(xn, col.data(), g);
      cols = col.data();
    }
    const T* gyn = gy + n * g.c_out * howo;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm(false, true, cg_out, k, howo, T(1), gyn + grp * cg_out * howo, howo, cols + grp * k * howo, howo, T(1),
           gw + grp * cg_out * k, k);
  }
}

// ---- depthwise direct path ----------------------------------------------------------------------
// Output channel oc reads input channel oc / multiplier (multiplier = c_out / c_in, usually 1).
template <class T>
void forward_depthwise(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in;
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t nc = 0; nc < g.n * g.c_out; ++nc) {
    const int64_t n = nc / g.c_out, oc = nc % g.c_out;
    const T* plane = x + (n * g.c_in + oc / mult) * g.h * g.w;
    const T* k = w + oc * g.kh * g.kw;
    T* out = y + nc * g.ho * g.wo;
    const T b = bias ? bias[oc] : T(0);
    for (int64_t oh = 0; oh < g.ho; ++oh) {
      for (int64_t ow = 0; ow < g.wo; ++ow) {
        T acc = b;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t iw = ow * g.stride_w - g.pad_w + j;
            if (iw >= 0 && iw < g.w) acc += plane[ih * g.w + iw] * k[i * g.kw + j];
          }
        }
        out[oh * g.wo + ow] = acc;
      }
    }
  }
}

// Scatter form, parallel over input planes: each thread owns one (n, c) plane of gx.
template <class T>
void backward_input_depthwise(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in;
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t nc = 0; nc < g.n * g.c_in; ++nc) {
    const int64_t n = nc / g.c_in, c = nc % g.c_in;
    T* plane = gx + nc * g.h * g.w;
    std::fill(plane, plane + g.h * g.w, T(0));
    for (int64_t oc = c * mult; oc < (c + 1) * mult; ++oc) {
      const T* k = w + oc * g.kh * g.kw;
      const T* grad = gy + (n * g.c_out + oc) * g.ho * g.wo;
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        for (int64_t ow = 0; ow < g.wo; ++ow) {
          const T gv = grad[oh * g.wo + ow];
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t ih = oh * g.stride_h - g.pad_h + i;
            if (ih < 0 || ih >= g.h) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t iw = ow * g.stride_w - g.pad_w + j;
              if (iw >= 0 && iw < g.w) plane[ih * g.w + iw] += gv * k[i * g.kw + j];
            }
          }
        }
      }
    }
  }
}

// Parallel over output channels: each thread owns one kh x kw filter and sums over the batch.
template <class T>
void backward_weight_depthwise(const T* gy, const T* x, T* gw, const Conv2dGeometry& g) {
  const int64_t mult = g.c_out / g.c_in;
#pragma omp parallel for if (g.n * g.c_out * g.ho * g.wo * g.kh * g.kw > 32768)
  for (int64_t oc = 0; oc < g.c_out; ++oc) {
    std::vector<double> acc(size_t(g.kh * g.kw), 0.0);  // long sums over N*Ho*Wo: accumulate in double
    for (int64_t n = 0; n < g.n; ++n) {
      const T* plane = x + (n * g.c_in + oc / mult) * g.h * g.w;
      const T* grad = gy + (n * g.c_out + oc) * g.ho * g.wo;
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        for (int64_t ow = 0; ow < g.wo; ++ow) {
          const double gv = double(grad[oh * g.wo + ow]);
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t ih = oh * g.stride_h - g.pad_h + i;
            if (ih < 0 || ih >= g.h) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t iw = ow * g.stride_w - g.pad_w + j;
              if (iw >= 0 && iw < g.w) acc[size_t(i * g.kw + j)] += gv * double(plane[ih * g.w + iw]);
            }
          }
        }
      }
    }
    for (int64_t t = 0; t < g.kh * g.kw; ++t) gw[oc * g.kh * g.kw + t] = T(acc[size_t(t)]);
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
    if (g.depthwise()) {
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
    if (g.depthwise()) backward_input_depthwise(gy.data<scalar_t>(), w.data<scalar_t>(), gx.data<scalar_t>(), g);
    else backward_input_gemm(gy.data<scalar_t>(), w.data<scalar_t>(), gx.data<scalar_t>(), g);
  });
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, Tensor& gw, const Conv2dGeometry& g) {
  dispatch_float(gy.dtype(), "conv2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    if (g.depthwise()) backward_weight_depthwise(gy.data<scalar_t>(), x.data<scalar_t>(), gw.data<scalar_t>(), g);
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
