// CPU half of squeeze_excitation: the plane passes (the mean, the scaling, the gate's gradient and
// dx) as parallel loops over the N·C planes, and the squeeze side as four small GEMMs through the
// matmul family's gemm, with the bias, activation and sigmoid passes over the formulas of
// squeeze_excitation_kernels.h between them.
#include "framework/core/cpu_parallel.h"
#include "framework/ops/cpu_vec.h"
#include "framework/ops/matmul_kernels.h"
#include "framework/ops/pooling_kernels.h"
#include "framework/ops/squeeze_excitation_kernels.h"

namespace effnet::cpu {
namespace {

struct Dims {
  int64_t N, C, HW, S;
  Dims(const Tensor& x, const Tensor& w_reduce) : N(x.size(0)), C(x.size(1)), HW(x.size(2) * x.size(3)), S(w_reduce.size(0)) {}
};

// Planes of HW values processed per parallel chunk: about 32K values.
int64_t plane_grain(int64_t hw) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, hw)); }

// out[j] = sum over rows i of m[i·cols + j]: the bias gradients (deterministic, one thread).
template <class T>
void column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += double(m[i * cols + j]);
    out[j] = T(s);
  }
}

}  // namespace

void se_forward(const Tensor& x, const Tensor& w_reduce, const Tensor& b_reduce, const Tensor& w_expand,
                const Tensor& b_expand, FusedActivation act, Tensor& y, Tensor& pooled, Tensor& hidden, Tensor& gate) {
  const Dims d(x, w_reduce);
  global_avg_pool2d(x, pooled, d.N * d.C, d.HW);
  dispatch_float(x.dtype(), "squeeze_excitation", [&](auto tag) {
    using T = decltype(tag);
    const T *pw1 = w_reduce.data<T>(), *pb1 = b_reduce.data<T>(), *pw2 = w_expand.data<T>(), *pb2 = b_expand.data<T>();
    T *pp = pooled.data<T>(), *ph = hidden.data<T>(), *pg = gate.data<T>();
    // hidden = pooled · W1ᵀ + b1 (N×S), kept before the activation; a = act(hidden).
    gemm(false, true, d.N, d.S, d.C, 1.0, pp, pw1, 0.0, ph);
    Tensor a = Tensor::empty({d.N, d.S}, x.dtype());
    T* pa = a.data<T>();
    with_activation(act, [&](auto f) {
      for (int64_t i = 0; i < d.N * d.S; ++i) {
        ph[i] += pb1[i % d.S];
        pa[i] = f(ph[i]);
      }
    });
    // gate = sigmoid(a · W2ᵀ + b2) (N×C).
    gemm(false, true, d.N, d.C, d.S, 1.0, pa, pw2, 0.0, pg);
    for (int64_t i = 0; i < d.N * d.C; ++i) pg[i] = se_gate(pg[i], pb2[i % d.C]);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t hw = d.HW;
    parallel_for(d.N * d.C, plane_grain(hw), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t p = lo; p < hi; ++p)
        for (int64_t i = 0; i < hw; ++i) py[p * hw + i] = px[p * hw + i] * pg[p];
    });
  });
}

void se_backward(const Tensor& x, const Tensor& gy, const Tensor& w_reduce, const Tensor& w_expand,
                 const Tensor& pooled, const Tensor& hidden, const Tensor& gate, FusedActivation act, Tensor& gx,
                 Tensor& gw_reduce, Tensor& gb_reduce, Tensor& gw_expand, Tensor& gb_expand) {
  const Dims d(x, w_reduce);
  dispatch_float(x.dtype(), "squeeze_excitation backward", [&](auto tag) {
    using T = decltype(tag);
    const T *px = x.data<T>(), *pgy = gy.data<T>(), *pw1 = w_reduce.data<T>(), *pw2 = w_expand.data<T>();
    const T *pp = pooled.data<T>(), *ph = hidden.data<T>(), *pg = gate.data<T>();
    const int64_t hw = d.HW;
    // dt = sigmoid'(.) · sum_hw(gy·x), per plane (N×C).
    Tensor dt_t = Tensor::empty({d.N, d.C}, x.dtype());
    T* dt = dt_t.data<T>();
    parallel_for(d.N * d.C, plane_grain(hw), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t p = lo; p < hi; ++p) {
        const T *gp = pgy + p * hw, *xp = px + p * hw;
        const T dgate = T(vec::sum<T>(hw, [gp, xp](int64_t i) { return gp[i] * xp[i]; }));
        dt[p] = se_gate_input_grad(dgate, pg[p]);
      }
    });
    if (gb_expand.defined()) column_sums(dt, d.N, d.C, gb_expand.data<T>());
    // a = act(hidden) again (N×S, small) for the expand weight's gradient: dW2 = dtᵀ · a.
    Tensor a_t = Tensor::empty({d.N, d.S}, x.dtype()), dh_t = Tensor::empty({d.N, d.S}, x.dtype());
    T *a = a_t.data<T>(), *dh = dh_t.data<T>();
    with_activation(act, [&](auto f) {
      for (int64_t i = 0; i < d.N * d.S; ++i) a[i] = f(ph[i]);
    });
    if (gw_expand.defined()) gemm(true, false, d.C, d.S, d.N, 1.0, dt, a, 0.0, gw_expand.data<T>());
    // dh = act'(hidden) · (dt · W2) (N×S); db1 = its column sums; dW1 = dhᵀ · pooled.
    gemm(false, false, d.N, d.S, d.C, 1.0, dt, pw2, 0.0, dh);
    with_activation(act, [&](auto f) {
      for (int64_t i = 0; i < d.N * d.S; ++i) dh[i] = f.grad(dh[i], ph[i]);
    });
    if (gb_reduce.defined()) column_sums(dh, d.N, d.S, gb_reduce.data<T>());
    if (gw_reduce.defined()) gemm(true, false, d.S, d.C, d.N, 1.0, dh, pp, 0.0, gw_reduce.data<T>());
    // dpooled = dh · W1 (N×C), reusing dt's memory; then dx per plane.
    gemm(false, false, d.N, d.C, d.S, 1.0, dh, pw1, 0.0, dt);
    T* pgx = gx.data<T>();
    const T inv_hw = avg_pool_inv_count<T>(hw);
    parallel_for(d.N * d.C, plane_grain(hw), [&](int64_t lo, int64_t hi) EFFNET_INLINE {
      for (int64_t p = lo; p < hi; ++p)
        for (int64_t i = 0; i < hw; ++i) pgx[p * hw + i] = se_input_grad(pgy[p * hw + i], pg[p], dt[p], inv_hw);
    });
  });
}

}  // namespace effnet::cpu
