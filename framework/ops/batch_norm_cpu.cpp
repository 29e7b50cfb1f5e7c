// CPU kernels of batch_norm2d: the readable reference. Per-channel statistics take two passes
// (mean, then squared deviations) summed through vec::sum (float lanes flushed into double), so
// they stay accurate for large N*H*W and still vectorise; channels run in parallel. Elementwise
// passes compute in the tensor's type.
#include <algorithm>
#include <cmath>

#include "framework/ops/batch_norm_kernels.h"
#include "framework/ops/cpu_vec.h"

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
      for_planes(d, c, px, [&](const scalar_t* p, int64_t) { sum += vec::sum<scalar_t>(d.HW, [p](int64_t i) { return p[i]; }); });
      const double mean = sum / M;
      const scalar_t mean_t = scalar_t(mean);
      double sq = 0.0;
      for_planes(d, c, px, [&](const scalar_t* p, int64_t) {
        sq += vec::sum<scalar_t>(d.HW, [p, mean_t](int64_t i) {
          const scalar_t dev = p[i] - mean_t;
          return dev * dev;
        });
      });
      // mean_t differs from mean by its rounding r; the deviations above are then off by r, which
      // adds M·r² to the sum of squares: taken back out here.
      const double r = double(mean_t) - mean;
      const double var = std::max(0.0, sq / M - r * r);  // biased: what normalises the batch
      const double invstd = 1.0 / std::sqrt(var + eps);
      // y = (x - mean)·scale + bias: subtracting first keeps float rounding relative to the result.
      const scalar_t scale = scalar_t(double(pw[c]) * invstd), shift = pb[c];
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) py[off + i] = (px[off + i] - mean_t) * scale + shift;
      }
      psm[c] = mean_t;
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
      const scalar_t scale = scalar_t(double(pw[c]) / std::sqrt(double(prv[c]) + eps)), mean = prm[c], shift = pb[c];
      const scalar_t* p = px + nc * d.HW;
      scalar_t* q = py + nc * d.HW;
      for (int64_t i = 0; i < d.HW; ++i) q[i] = (p[i] - mean) * scale + shift;
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
      const scalar_t mean = pm[c];
      const double invstd = double(pi[c]);
      // sum_g = dL/dbias, sum_gxhat = dL/dweight
      double sum_g = 0.0, sum_gxc = 0.0;
      for (int64_t n = 0; n < d.N; ++n) {
        const scalar_t* xp = px + (n * d.C + c) * d.HW;
        const scalar_t* gp = pg + (n * d.C + c) * d.HW;
        sum_g += vec::sum<scalar_t>(d.HW, [gp](int64_t i) { return gp[i]; });
        sum_gxc += vec::sum<scalar_t>(d.HW, [xp, gp, mean](int64_t i) { return gp[i] * (xp[i] - mean); });
      }
      const double sum_gxhat = sum_gxc * invstd;
      if (pgb) pgb[c] = scalar_t(sum_g);
      if (pgw) pgw[c] = scalar_t(sum_gxhat);
      if (!pgx) continue;
      // dx = weight·invstd·(g - mean(g) - xhat·mean(g·xhat)) = a·g + b·(x - mean) + e
      const double k = double(pw[c]) * invstd;
      const scalar_t a = scalar_t(k), b = scalar_t(-k * invstd * sum_gxhat / M), e = scalar_t(-k * sum_g / M);
      for (int64_t n = 0; n < d.N; ++n) {
        const int64_t off = (n * d.C + c) * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) pgx[off + i] = a * pg[off + i] + b * (px[off + i] - mean) + e;
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
