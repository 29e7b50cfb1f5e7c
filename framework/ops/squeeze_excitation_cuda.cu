// CUDA half of squeeze_excitation: the mean through the pooling family's warp-per-plane kernel,
// the four small products through cuBLAS (the matmul family's gemm), and element kernels over
// the formulas of squeeze_excitation_kernels.h: 6 launches forward and 9 backward, where the
// separate ops took about 8 and 15. The gate's gradient, sum_hw(gy·x), is a warp per plane.
#include "framework/ops/matmul_kernels.h"
#include "framework/ops/pooling_kernels.h"
#include "framework/ops/row_reduce.cuh"
#include "framework/ops/squeeze_excitation_kernels.h"

namespace effnet::cuda_ops {
namespace {

// hidden += b1 (kept before the activation); a = act(hidden). Over the N×S entries.
template <class T, class Act>
struct HiddenBiasActivation {
  T *hidden, *a;
  const T* bias;
  int64_t S;
  Act act;
  __device__ void operator()(int64_t i) const {
    hidden[i] += bias[i % S];
    a[i] = act(hidden[i]);
  }
};

// a = act(hidden) again, for backward.
template <class T, class Act>
struct HiddenActivation {
  const T* hidden;
  T* a;
  Act act;
  __device__ void operator()(int64_t i) const { a[i] = act(hidden[i]); }
};

// dh = act'(hidden) · dh, in place.
template <class T, class Act>
struct HiddenGrad {
  const T* hidden;
  T* dh;
  Act act;
  __device__ void operator()(int64_t i) const { dh[i] = act.grad(dh[i], hidden[i]); }
};

template <class T>
struct Gate {
  T* gate;
  const T* bias;
  int64_t C;
  __device__ void operator()(int64_t i) const { gate[i] = se_gate(gate[i], bias[i % C]); }
};

template <class T>
struct Scale {
  const T *x, *gate;
  T* y;
  int64_t HW;
  __device__ void operator()(int64_t i) const { y[i] = x[i] * gate[i / HW]; }
};

template <class T>
struct InputGrad {
  const T *gy, *gate, *dpooled;
  T* gx;
  int64_t HW;
  T inv_hw;
  __device__ void operator()(int64_t i) const {
    const int64_t p = i / HW;
    gx[i] = se_input_grad(gy[i], gate[p], dpooled[p], inv_hw);
  }
};

// dt[p] = sigmoid'(gate) · sum_hw(gy·x) for plane p: one warp per plane, accumulated in double
// as the CPU does.
template <class T>
__global__ void gate_grad_kernel(const T* gy, const T* x, const T* gate, T* dt, int64_t planes, int64_t HW) {
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / 32;
  const int lane = threadIdx.x & 31;
  for (int64_t p = warp; p < planes; p += warps) {
    double s = 0.0;
    for (int64_t i = lane; i < HW; i += 32) s += double(gy[p * HW + i]) * double(x[p * HW + i]);
    s = warp_sum(s);
    if (lane == 0) dt[p] = se_gate_input_grad(T(s), gate[p]);
  }
}

// out[j] = sum over rows of m[i·cols + j], a thread per column (deterministic): the bias gradients.
template <class T>
__global__ void column_sums_kernel(const T* m, int64_t rows, int64_t cols, T* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += double(m[i * cols + j]);
    out[j] = T(s);
  }
}

template <class T>
void column_sums(const T* m, int64_t rows, int64_t cols, T* out) {
  cuda::launch(column_sums_kernel<T>, cuda::grid_for(cols, cuda::kThreads), cuda::kThreads, m, rows, cols, out);
}

}  // namespace

void se_forward(const Tensor& x, const Tensor& w_reduce, const Tensor& b_reduce, const Tensor& w_expand,
                const Tensor& b_expand, FusedActivation act, Tensor& y, Tensor& pooled, Tensor& hidden, Tensor& gate) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3), S = w_reduce.size(0);
  global_avg_pool2d(x, pooled, N * C, HW);
  dispatch_float(x.dtype(), "squeeze_excitation", [&](auto tag) {
    using T = decltype(tag);
    gemm(false, true, N, S, C, 1.0, pooled.data<T>(), w_reduce.data<T>(), 0.0, hidden.data<T>());
    Tensor a = Tensor::empty({N, S}, x.dtype(), x.device());
    with_activation(act, [&](auto f) {
      cuda::for_each(N * S, HiddenBiasActivation<T, decltype(f)>{hidden.data<T>(), a.data<T>(), b_reduce.data<T>(), S, f});
    });
    gemm(false, true, N, C, S, 1.0, a.data<T>(), w_expand.data<T>(), 0.0, gate.data<T>());
    cuda::for_each(N * C, Gate<T>{gate.data<T>(), b_expand.data<T>(), C});
    cuda::for_each(x.numel(), Scale<T>{x.data<T>(), gate.data<T>(), y.data<T>(), HW});
  });
}

void se_backward(const Tensor& x, const Tensor& gy, const Tensor& w_reduce, const Tensor& w_expand,
                 const Tensor& pooled, const Tensor& hidden, const Tensor& gate, FusedActivation act, Tensor& gx,
                 Tensor& gw_reduce, Tensor& gb_reduce, Tensor& gw_expand, Tensor& gb_expand) {
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3), S = w_reduce.size(0);
  dispatch_float(x.dtype(), "squeeze_excitation backward", [&](auto tag) {
    using T = decltype(tag);
    Tensor dt = Tensor::empty({N, C}, x.dtype(), x.device());
    cuda::launch(gate_grad_kernel<T>, cuda::warp_per_row_grid(N * C), cuda::kThreads, gy.data<T>(), x.data<T>(),
                 gate.data<T>(), dt.data<T>(), N * C, HW);
    if (gb_expand.defined()) column_sums(dt.data<T>(), N, C, gb_expand.data<T>());
    Tensor a = Tensor::empty({N, S}, x.dtype(), x.device()), dh = Tensor::empty({N, S}, x.dtype(), x.device());
    with_activation(act, [&](auto f) {
      cuda::for_each(N * S, HiddenActivation<T, decltype(f)>{hidden.data<T>(), a.data<T>(), f});
    });
    if (gw_expand.defined()) gemm(true, false, C, S, N, 1.0, dt.data<T>(), a.data<T>(), 0.0, gw_expand.data<T>());
    gemm(false, false, N, S, C, 1.0, dt.data<T>(), w_expand.data<T>(), 0.0, dh.data<T>());
    with_activation(act, [&](auto f) {
      cuda::for_each(N * S, HiddenGrad<T, decltype(f)>{hidden.data<T>(), dh.data<T>(), f});
    });
    if (gb_reduce.defined()) column_sums(dh.data<T>(), N, S, gb_reduce.data<T>());
    if (gw_reduce.defined()) gemm(true, false, S, C, N, 1.0, dh.data<T>(), pooled.data<T>(), 0.0, gw_reduce.data<T>());
    gemm(false, false, N, C, S, 1.0, dh.data<T>(), w_reduce.data<T>(), 0.0, dt.data<T>());  // dpooled, in dt
    cuda::for_each(x.numel(), InputGrad<T>{gy.data<T>(), gate.data<T>(), dt.data<T>(), gx.data<T>(), HW,
                                           avg_pool_inv_count<T>(HW)});
  });
}

}  // namespace effnet::cuda_ops
