// CPU kernels of batch_norm2d: the readable reference, over the shared formulas of
// batch_norm_kernels.h. Training mode computes in double (two-pass statistics: mean, then squared
// deviations; the normalisation itself), rounding once per output, vectorised across the
// positions of a block of channels; blocks run in parallel. A fused activation runs on the rounded
// normalised value in the output pass, and backward recomputes that value to take its derivative.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "framework/ops/batch_norm_kernels.h"
#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"

namespace effnet::cpu {
namespace {

struct Dims {
  int64_t N, C, HW;
  explicit Dims(const Tensor& x) : N(x.size(0)), C(x.size(1)), HW(x.size(2) * x.size(3)) {}
  int64_t count() const { return N * HW; }  // values per channel
};

// Calls f(c0, c1) for blocks of channels (through vectorised(), so f must be EFFNET_INLINE), in
// parallel when the tensor is large. Within a block, kernels walk the images outer and the
// block's values inner: per image the block is one contiguous run of len = channels·H·W values,
// and per-channel quantities are expanded to one entry per position of that run, so every pass
// is a plain vector loop whatever the plane size (down to the 1x1 planes at 32x32 input). Blocks
// hold up to ~4K values so that the run and its per-position arrays stay in L1/L2.
template <class F>
void for_channel_blocks(const Dims& d, F&& f) {
  const int threads = d.N * d.C * d.HW > 32768 ? cpu_threads() : 1;
  const int64_t by_size = std::max<int64_t>(1, 4096 / d.HW), by_threads = (d.C + 4 * threads - 1) / (4 * threads);
  const int64_t block = std::max<int64_t>(1, std::min(by_size, by_threads));
  const int64_t blocks = (d.C + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t b = 0; b < blocks; ++b) vectorised(f, b * block, std::min(d.C, (b + 1) * block));
}

// total[j] = sum over images n of f(n, j), j in [0, len), and likewise total2 with f2: in double
// (vectorised across positions), as accurate as the reference statistics need.
template <class F, class F2>
EFFNET_INLINE inline void image_sums(int64_t N, int64_t len, double* total, double* total2, F&& f, F2&& f2) {
  std::fill(total, total + len, 0.0);
  std::fill(total2, total2 + len, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < len; ++j) {
      total[j] += f(n, j);
      total2[j] += f2(n, j);
    }
}
template <class F>
EFFNET_INLINE inline void image_sums(int64_t N, int64_t len, double* total, F&& f) {
  std::fill(total, total + len, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < len; ++j) total[j] += f(n, j);
}

// Per-channel sum of a block's per-position totals.
inline double channel_total(const double* total, int64_t c, int64_t hw) {
  double s = 0.0;
  for (int64_t i = 0; i < hw; ++i) s += total[c * hw + i];
  return s;
}

// Per-position arrays of one block: `count` runs of len doubles.
struct BlockScratch {
  std::vector<double> v;
  int64_t len;
  BlockScratch(int64_t count, int64_t len) : v(size_t(count * len)), len(len) {}
  double* run(int64_t i) { return v.data() + i * len; }
};

// Fills run[c·hw .. (c+1)·hw) with value: a per-channel quantity expanded over its positions.
inline void expand(double* run, int64_t c, int64_t hw, double value) { std::fill(run + c * hw, run + (c + 1) * hw, value); }

}  // namespace

void batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, FusedActivation act, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd) {
  const Dims d(x);
  dispatch_float(x.dtype(), "batch_norm2d", [&](auto tag) {
   with_activation(act, [&](auto activation) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    const scalar_t *pw = weight.data<scalar_t>(), *pb = bias.data<scalar_t>();
    scalar_t *prm = running_mean.data<scalar_t>(), *prv = running_var.data<scalar_t>();
    scalar_t* py = y.data<scalar_t>();
    scalar_t *psm = save_mean.data<scalar_t>(), *psi = save_invstd.data<scalar_t>();
    const double M = double(d.count());
    const int64_t CHW = d.C * d.HW;
    for_channel_blocks(d, [&](int64_t c0, int64_t c1) EFFNET_INLINE {
      const int64_t len = (c1 - c0) * d.HW, base = c0 * d.HW;
      BlockScratch s(4, len);
      double *sum = s.run(0), *mean = s.run(1), *scale = s.run(2), *shift = s.run(3);
      const scalar_t* xb = px + base;
      image_sums(d.N, len, sum, [&](int64_t n, int64_t j) EFFNET_INLINE { return double(xb[n * CHW + j]); });
      for (int64_t c = c0; c < c1; ++c) expand(mean, c - c0, d.HW, channel_total(sum, c - c0, d.HW) / M);
      image_sums(d.N, len, sum, [&](int64_t n, int64_t j) EFFNET_INLINE {
        const double dev = double(xb[n * CHW + j]) - mean[j];
        return dev * dev;
      });
      for (int64_t c = c0; c < c1; ++c) {
        const double m = mean[(c - c0) * d.HW];
        const double var = channel_total(sum, c - c0, d.HW) / M;  // biased: what normalises the batch
        const double invstd = bn_invstd(var, eps);
        psm[c] = scalar_t(m);
        psi[c] = scalar_t(invstd);
        // The running variance estimates the population variance: unbiased, as in PyTorch.
        prm[c] = scalar_t((1.0 - momentum) * double(prm[c]) + momentum * m);
        prv[c] = scalar_t((1.0 - momentum) * double(prv[c]) + momentum * var * M / (M - 1.0));
        expand(scale, c - c0, d.HW, double(pw[c]) * invstd);
        expand(shift, c - c0, d.HW, double(pb[c]));
      }
      // z in double, rounded once: training-mode BN amplifies every rounding of its input in the
      // layers after it (with this pass in float, B3's train logits drifted from PyTorch's by
      // 1.02e-5 relative, past test_parity_torch's bound of 1e-5; 8.2e-6 this way). The activation
      // then runs on the rounded z in the tensor's type, exactly as the separate op would.
      for (int64_t n = 0; n < d.N; ++n) {
        const scalar_t* xn = xb + n * CHW;
        scalar_t* yn = py + base + n * CHW;
        for (int64_t j = 0; j < len; ++j)
          yn[j] = activation(scalar_t(bn_normalise(double(xn[j]), mean[j], scale[j], shift[j])));
      }
    });
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
    // Per-position runs as in training mode; one pass in the tensor's type (no statistics here
    // to amplify rounding).
    for_channel_blocks(d, [&](int64_t c0, int64_t c1) EFFNET_INLINE {
      const int64_t len = (c1 - c0) * d.HW, base = c0 * d.HW, CHW = d.C * d.HW;
      std::vector<scalar_t> runs(size_t(3 * len));
      scalar_t *mean = runs.data(), *scale = mean + len, *shift = scale + len;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t o = (c - c0) * d.HW;
        std::fill(mean + o, mean + o + d.HW, prm[c]);
        std::fill(scale + o, scale + o + d.HW, scalar_t(double(pw[c]) / std::sqrt(double(prv[c]) + eps)));
        std::fill(shift + o, shift + o + d.HW, pb[c]);
      }
      for (int64_t n = 0; n < d.N; ++n) {
        const scalar_t* xn = px + base + n * CHW;
        scalar_t* yn = py + base + n * CHW;
        for (int64_t j = 0; j < len; ++j) yn[j] = bn_normalise(xn[j], mean[j], scale[j], shift[j]);
      }
    });
  });
}

void batch_norm_invstd(const Tensor& var, double eps, Tensor& invstd) {
  dispatch_float(var.dtype(), "batch_norm2d", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* pv = var.data<scalar_t>();
    scalar_t* pi = invstd.data<scalar_t>();
    for (int64_t c = 0; c < var.numel(); ++c) pi[c] = scalar_t(bn_invstd(double(pv[c]), eps));
  });
}

void batch_norm_train_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& bias,
                               const Tensor& save_mean, const Tensor& save_invstd, double eps, FusedActivation act,
                               Tensor& gx, Tensor& gw, Tensor& gb) {
  const Dims d(x);
  dispatch_float(x.dtype(), "batch_norm2d backward", [&](auto tag) {
   with_activation(act, [&](auto activation) {
    using scalar_t = decltype(tag);
    constexpr bool fused = !std::is_same_v<decltype(activation), NoActivation>;
    const scalar_t *px = x.data<scalar_t>(), *pw = weight.data<scalar_t>();
    const scalar_t* pbias = fused ? bias.data<scalar_t>() : nullptr;
    // Fused: the gradient of z, g·act'(z), is written into gx by the first pass and read from
    // there by the others (the last one overwrites it with dx, element by element).
    const scalar_t* pg = fused ? gx.data<scalar_t>() : g.data<scalar_t>();
    const scalar_t* pg_act = g.data<scalar_t>();
    const scalar_t *pm = save_mean.data<scalar_t>(), *pi = save_invstd.data<scalar_t>();
    scalar_t* pgx = gx.defined() ? gx.data<scalar_t>() : nullptr;
    scalar_t* pgw = gw.defined() ? gw.data<scalar_t>() : nullptr;
    scalar_t* pgb = gb.defined() ? gb.data<scalar_t>() : nullptr;
    const double M = double(d.count());
    const int64_t CHW = d.C * d.HW;
    for_channel_blocks(d, [&](int64_t c0, int64_t c1) EFFNET_INLINE {
      const int64_t len = (c1 - c0) * d.HW, base = c0 * d.HW;
      BlockScratch s(5, len);
      double *sum_g = s.run(0), *sum_gxc = s.run(1), *mean = s.run(2), *a = s.run(3), *b = s.run(4);
      for (int64_t c = c0; c < c1; ++c) expand(mean, c - c0, d.HW, double(pm[c]));
      const scalar_t *xb = px + base, *gb_ = pg + base;
      if constexpr (fused) {
        // z recomputed as the forward did, from the saved (rounded) statistics: a, b serve as the
        // scale and shift runs here, before they take their own meaning below.
        for (int64_t c = c0; c < c1; ++c) {
          expand(a, c - c0, d.HW, double(pw[c]) * double(pi[c]));
          expand(b, c - c0, d.HW, double(pbias[c]));
        }
        for (int64_t n = 0; n < d.N; ++n) {
          const scalar_t *xn = xb + n * CHW, *gn = pg_act + base + n * CHW;
          scalar_t* zn = pgx + base + n * CHW;
          for (int64_t j = 0; j < len; ++j)
            zn[j] = activation.grad(gn[j], scalar_t(bn_normalise(double(xn[j]), mean[j], a[j], b[j])));
        }
      }
      image_sums(
          d.N, len, sum_g, sum_gxc, [&](int64_t n, int64_t j) EFFNET_INLINE { return double(gb_[n * CHW + j]); },
          [&](int64_t n, int64_t j) EFFNET_INLINE {
            return bn_centered_product(double(gb_[n * CHW + j]), double(xb[n * CHW + j]), mean[j]);
          });
      // dx = weight·invstd·(g - mean(g) - xhat·mean(g·xhat)) = a·g + b·(x - mean) + e, with
      // sum_g = dL/dbias and sum_gxc·invstd = dL/dweight; e goes into sum_g's run.
      for (int64_t c = c0; c < c1; ++c) {
        const double invstd = double(pi[c]), sg = channel_total(sum_g, c - c0, d.HW);
        const double sgxhat = channel_total(sum_gxc, c - c0, d.HW) * invstd;
        if (pgb) pgb[c] = scalar_t(sg);
        if (pgw) pgw[c] = scalar_t(sgxhat);
        const double k = double(pw[c]) * invstd;
        expand(a, c - c0, d.HW, k);
        expand(b, c - c0, d.HW, -k * invstd * sgxhat / M);
        expand(sum_g, c - c0, d.HW, -k * sg / M);
      }
      if (!pgx) return;
      for (int64_t n = 0; n < d.N; ++n) {
        const scalar_t *xn = xb + n * CHW, *gn = gb_ + n * CHW;
        scalar_t* dn = pgx + base + n * CHW;
        for (int64_t j = 0; j < len; ++j)
          dn[j] = scalar_t(a[j] * double(gn[j]) + b[j] * (double(xn[j]) - mean[j]) + sum_g[j]);
      }
    });
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
        const double k = bn_eval_grad_scale(double(pw[c]), double(pi[c]));
        for (int64_t i = 0; i < d.HW; ++i) pgx[nc * d.HW + i] = bn_eval_input_grad(pg[nc * d.HW + i], k);
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
          if (px) sum_gxc += bn_centered_product(double(pg[off + i]), double(px[off + i]), double(pm[c]));
        }
      }
      if (pgb) pgb[c] = scalar_t(sum_g);
      if (pgw) pgw[c] = scalar_t(sum_gxc * double(pi[c]));
    }
  });
}

}  // namespace effnet::cpu
