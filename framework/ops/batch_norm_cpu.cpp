// CPU kernels of batch_norm2d: the readable reference. Per-channel statistics take two passes
// (mean, then squared deviations) summed through vec::sum (float lanes flushed into double), so
// they stay accurate for large N*H*W and still vectorise; channels run in parallel. Elementwise
// passes compute in the tensor's type.
#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/ops/batch_norm_kernels.h"
#include "framework/ops/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"

namespace effnet::cpu {
namespace {

struct Dims {
  int64_t N, C, HW;
  explicit Dims(const Tensor& x) : N(x.size(0)), C(x.size(1)), HW(x.size(2) * x.size(3)) {}
  int64_t count() const { return N * HW; }  // values per channel
};

// Calls f(c0, c1) for blocks of channels (through vectorised(), so f must be EFFNET_INLINE), in
// parallel when the tensor is large. Kernels walk the
// images outer and the block's channels inner, so each image's block is one contiguous run of
// memory, and per-channel sums over small planes (2x2, 1x1 at 32x32 input) are independent
// chains rather than one dependent chain per channel.
template <class F>
void for_channel_blocks(const Dims& d, F&& f) {
  const int threads = d.N * d.C * d.HW > 32768 ? cpu_threads() : 1;
  const int64_t block = std::max<int64_t>(1, (d.C + 4 * threads - 1) / (4 * threads));
  const int64_t blocks = (d.C + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t b = 0; b < blocks; ++b) vectorised(f, b * block, std::min(d.C, (b + 1) * block));
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
    for_channel_blocks(d, [&](int64_t c0, int64_t c1) EFFNET_INLINE {
      std::vector<double> sum(size_t(c1 - c0), 0.0), sq(size_t(c1 - c0), 0.0);
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const scalar_t* p = px + (n * d.C + c) * d.HW;
          sum[size_t(c - c0)] += vec::sum<scalar_t>(d.HW, [p](int64_t i) { return p[i]; });
        }
      for (int64_t c = c0; c < c1; ++c) psm[c] = scalar_t(sum[size_t(c - c0)] / M);
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const scalar_t* p = px + (n * d.C + c) * d.HW;
          const scalar_t mean = psm[c];
          sq[size_t(c - c0)] += vec::sum<scalar_t>(d.HW, [p, mean](int64_t i) {
            const scalar_t dev = p[i] - mean;
            return dev * dev;
          });
        }
      for (int64_t c = c0; c < c1; ++c) {
        const double mean = sum[size_t(c - c0)] / M;
        // The deviations were taken from the rounded mean psm[c] = mean + r, which adds M·r² to
        // their sum of squares: taken back out here.
        const double r = double(psm[c]) - mean;
        const double var = std::max(0.0, sq[size_t(c - c0)] / M - r * r);  // biased: what normalises the batch
        const double invstd = 1.0 / std::sqrt(var + eps);
        psi[c] = scalar_t(invstd);
        // The running variance estimates the population variance: unbiased, as in PyTorch.
        prm[c] = scalar_t((1.0 - momentum) * double(prm[c]) + momentum * mean);
        prv[c] = scalar_t((1.0 - momentum) * double(prv[c]) + momentum * var * M / (M - 1.0));
        sq[size_t(c - c0)] = double(pw[c]) * invstd;  // now the scale
      }
      // y = (x - mean)·scale + bias: subtracting first keeps the rounding relative to the result.
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t off = (n * d.C + c) * d.HW;
          const scalar_t mean = psm[c], scale = scalar_t(sq[size_t(c - c0)]), shift = pb[c];
          for (int64_t i = 0; i < d.HW; ++i) py[off + i] = (px[off + i] - mean) * scale + shift;
        }
    });
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
    std::vector<scalar_t> scale(size_t(d.C));
    for (int64_t c = 0; c < d.C; ++c) scale[size_t(c)] = scalar_t(double(pw[c]) / std::sqrt(double(prv[c]) + eps));
    const scalar_t* ps = scale.data();
    parallel_for(d.N * d.C, std::max<int64_t>(1, 32768 / d.HW), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t nc = lo; nc < hi; ++nc) {
        const int64_t c = nc % d.C;
        const scalar_t sc = ps[c], mean = prm[c], shift = pb[c];
        const scalar_t* p = px + nc * d.HW;
        scalar_t* q = py + nc * d.HW;
        for (int64_t i = 0; i < d.HW; ++i) q[i] = (p[i] - mean) * sc + shift;
      }
    });
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
    for_channel_blocks(d, [&](int64_t c0, int64_t c1) EFFNET_INLINE {
      // sum_g = dL/dbias, sum_gxc·invstd = dL/dweight
      std::vector<double> sum_g(size_t(c1 - c0), 0.0), sum_gxc(size_t(c1 - c0), 0.0);
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const scalar_t* xp = px + (n * d.C + c) * d.HW;
          const scalar_t* gp = pg + (n * d.C + c) * d.HW;
          const scalar_t mean = pm[c];
          sum_g[size_t(c - c0)] += vec::sum<scalar_t>(d.HW, [gp](int64_t i) { return gp[i]; });
          sum_gxc[size_t(c - c0)] +=
              vec::sum<scalar_t>(d.HW, [xp, gp, mean](int64_t i) { return gp[i] * (xp[i] - mean); });
        }
      for (int64_t c = c0; c < c1; ++c) {
        const double invstd = double(pi[c]), sg = sum_g[size_t(c - c0)], sgxhat = sum_gxc[size_t(c - c0)] * invstd;
        if (pgb) pgb[c] = scalar_t(sg);
        if (pgw) pgw[c] = scalar_t(sgxhat);
        // dx = weight·invstd·(g - mean(g) - xhat·mean(g·xhat)) = a·g + b·(x - mean) + e: keep b, e.
        const double k = double(pw[c]) * invstd;
        sum_gxc[size_t(c - c0)] = -k * invstd * sgxhat / M;
        sum_g[size_t(c - c0)] = -k * sg / M;
      }
      if (!pgx) return;
      for (int64_t n = 0; n < d.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t off = (n * d.C + c) * d.HW;
          const scalar_t a = scalar_t(double(pw[c]) * double(pi[c])), b = scalar_t(sum_gxc[size_t(c - c0)]),
                         e = scalar_t(sum_g[size_t(c - c0)]), mean = pm[c];
          for (int64_t i = 0; i < d.HW; ++i) pgx[off + i] = a * pg[off + i] + b * (px[off + i] - mean) + e;
        }
    });
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
