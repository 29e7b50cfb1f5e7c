// CPU kernels of batch_norm2d: the readable reference. Per-channel statistics are accumulated in
// double with two passes (mean, then squared deviations) so that they stay accurate for large
// N*H*W; channels run in parallel.
#include <cmath>

#include "framework/ops/batch_norm_kernels.h"

namespace effnet::cpu {
namespace {

struct Dims {
  int64_t N, C, HW;
  explicit Dims(const Tensor& x) : N(x.size(0)), C(x.size(1)), HW(x.size(2) * x.size(3)) {}
  int64_t count() const { return N * HW; }  // values per channel
};

// Calls f(plane) for each of channel c's N planes of HW contiguous values.
template <class T, class F>
inline void for_planes(const Dims& d, int64_t c, T* base, F&& f) {
  for (int64_t n = 0; n < d.N; ++n) f(base + (n * d.C + c) * d.HW, n);
}

}  // namespace

void batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                              Tensor& save_invstd) {
  const Dims d(x);
  dispatch_float(x.dtype(), "batch_norm2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t *pw = weight.data<scalar_t>(), *pb = bias.data<scalar_t>();
    scalar_t *prm = running_mean.data<scalar_t>(), *prv = running_var.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    scalar_t *psm = save_mean.data<scalar_t>(), *psi = save_invstd.data<scalar_t>();
    const double M = double(d.count());
#pragma omp parallel for if (d.N * d.C * d.HW > 32768)
    for (int64_t c = 0; c < d.C; ++c) {
      double sum = 0.0;
      for_planes(d, c, px, [&](const scalar_t* p, int64_t) {
        for (int64_t i = 0; i < d.HW; ++i) sum += double(p[i]);
      });
      const double mean = sum / M;
      double sq = 0.0;
      for_planes(d, c, px, [&](const scalar_t* p, int64_t) {
        for (int64_t i = 0; i < d.HW; ++i) {
          double dev = double(p[i]) - mean;
          sq += dev * dev;
        }
      });
      const double var = sq / M;  // biased: what normalises the batch
      const double invstd = 1.0 / std::sqrt(var + eps);
      const double scale = double(pw[c]) * invstd, shift = double(pb[c]) - mean * scale;
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) py[off + i] = scalar_t(double(px[off + i]) * scale + shift);
      }
      psm[c] = scalar_t(mean);
      psi[c] = scalar_t(invstd);
      // The running variance estimates the population variance: unbiased, as in PyTorch.
      prm[c] = scalar_t((1.0 - momentum) * double(prm[c]) + momentum * mean);
      prv[c] = scalar_t((1.0 - momentum) * double(prv[c]) + momentum * var * M / (M - 1.0));
    }
  });
}

void batch_norm_eval_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y) {
  const Dims d(x);
  dispatch_float(x.dtype(), "batch_norm2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t *pw = weight.data<scalar_t>(), *pb = bias.data<scalar_t>();
    const scalar_t *prm = running_mean.data<scalar_t>(), *prv = running_var.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
#pragma omp parallel for if (d.N * d.C * d.HW > 32768)
    for (int64_t nc = 0; nc < d.N * d.C; ++nc) {
      const int64_t c = nc % d.C;
      const double scale = double(pw[c]) / std::sqrt(double(prv[c]) + eps);
      const double shift = double(pb[c]) - double(prm[c]) * scale;
      const scalar_t* p = px + nc * d.HW;
      scalar_t* q = py + nc * d.HW;
      for (int64_t i = 0; i < d.HW; ++i) q[i] = scalar_t(double(p[i]) * scale + shift);
    }
  });
}

void batch_norm_invstd(const Tensor& var, double eps, Tensor& invstd) {
  dispatch_float(var.dtype(), "batch_norm2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pv = var.data<scalar_t>();
    scalar_t* pi = invstd.data<scalar_t>();
    for (int64_t c = 0; c < var.numel(); ++c) pi[c] = scalar_t(1.0 / std::sqrt(double(pv[c]) + eps));
  });
}

void batch_norm_train_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& save_mean,
                               const Tensor& save_invstd, double eps, Tensor& gx, Tensor& gw, Tensor& gb) {
  const Dims d(x);
  dispatch_float(x.dtype(), "batch_norm2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t *px = x.data<scalar_t>(), *pg = g.data<scalar_t>(), *pw = weight.data<scalar_t>();
    const scalar_t *pm = save_mean.data<scalar_t>(), *pi = save_invstd.data<scalar_t>();
    scalar_t* pgx = gx.defined() ? gx.data<scalar_t>() : nullptr;
    scalar_t* pgw = gw.defined() ? gw.data<scalar_t>() : nullptr;
    scalar_t* pgb = gb.defined() ? gb.data<scalar_t>() : nullptr;
    const double M = double(d.count());
#pragma omp parallel for if (d.N * d.C * d.HW > 32768)
    for (int64_t c = 0; c < d.C; ++c) {
      const double mean = double(pm[c]), invstd = double(pi[c]);
      // sum_g = dL/dbias, sum_gxhat = dL/dweight
      double sum_g = 0.0, sum_gxhat = 0.0;
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) {
          double gi = double(pg[off + i]);
          sum_g += gi;
          sum_gxhat += gi * (double(px[off + i]) - mean) * invstd;
        }
      }
      if (pgb) pgb[c] = scalar_t(sum_g);
      if (pgw) pgw[c] = scalar_t(sum_gxhat);
      if (!pgx) continue;
      // dx = weight * invstd * (g - mean(g) - xhat * mean(g * xhat))
      const double k = double(pw[c]) * invstd, mean_g = sum_g / M, mean_gxhat = sum_gxhat / M;
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) {
          double xhat = (double(px[off + i]) - mean) * invstd;
          pgx[off + i] = scalar_t(k * (double(pg[off + i]) - mean_g - xhat * mean_gxhat));
        }
      }
    }
  });
}

void batch_norm_eval_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& mean,
                              const Tensor& invstd, Tensor& gx, Tensor& gw, Tensor& gb) {
  const Dims d(g);
  dispatch_float(g.dtype(), "batch_norm2d backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t *pg = g.data<scalar_t>(), *pw = weight.data<scalar_t>(), *pi = invstd.data<scalar_t>();
    if (gx.defined()) {
      scalar_t* pgx = gx.data<scalar_t>();
#pragma omp parallel for if (d.N * d.C * d.HW > 32768)
      for (int64_t nc = 0; nc < d.N * d.C; ++nc) {
        const int64_t c = nc % d.C;
        const double k = double(pw[c]) * double(pi[c]);
        for (int64_t i = 0; i < d.HW; ++i) pgx[nc * d.HW + i] = scalar_t(k * double(pg[nc * d.HW + i]));
      }
    }
    if (!gw.defined() && !gb.defined()) return;
    // x and mean are saved only when the weight needs a gradient.
    const scalar_t* px = gw.defined() ? x.data<scalar_t>() : nullptr;
    const scalar_t* pm = gw.defined() ? mean.data<scalar_t>() : nullptr;
    scalar_t* pgw = gw.defined() ? gw.data<scalar_t>() : nullptr;
    scalar_t* pgb = gb.defined() ? gb.data<scalar_t>() : nullptr;
#pragma omp parallel for if (d.N * d.C * d.HW > 32768)
    for (int64_t c = 0; c < d.C; ++c) {
      double sum_g = 0.0, sum_gxc = 0.0;
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) {
          sum_g += double(pg[off + i]);
          if (px) sum_gxc += double(pg[off + i]) * (double(px[off + i]) - double(pm[c]));
        }
      }
      if (pgb) pgb[c] = scalar_t(sum_g);
      if (pgw) pgw[c] = scalar_t(sum_gxc * double(pi[c]));
    }
  });
}

}  // namespace effnet::cpu
