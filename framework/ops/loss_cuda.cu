// CUDA kernels of the losses, over the formulas of loss_kernels.h and row_math.h that the CPU
// calls, in double like the CPU. Forward: one warp per row computes max, log-sum-exp, the sum of
// the logits (for label smoothing) and the label's term. Backward: an element functor per logit,
// since the saved log-sum-exp makes every element independent.
//
// Bad labels: the stream must not stall for a label check, so a kernel that meets a label outside
// [0, C) writes NaN for that row (loss and gradient) and records the label in a process-wide
// device flag {count, first label, its row, C}. After each forward the flag is copied
// asynchronously into pinned host memory; the next call reads that mirror without waiting and,
// when it shows an error, synchronises and throws. check_label_errors() does the same on demand.
#include <cstring>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/loss_kernels.h"
#include "framework/ops/row_math.h"
#include "framework/ops/row_reduce.cuh"

namespace effnet::cuda_ops {
namespace {

constexpr size_t kFlagBytes = 4 * sizeof(int64_t);

struct LabelFlag {
  Tensor device;            // int64 [count, first bad label, its row, C]
  int64_t* host = nullptr;  // pinned mirror, refreshed after every forward
};

// Created on first use and never freed (like the context): it must outlive every tensor.
LabelFlag* g_label_flag = nullptr;

LabelFlag& label_flag() {
  if (!g_label_flag) {
    auto* f = new LabelFlag();
    f->device = Tensor::empty({4}, DType::Int64, Device::cuda());
    CUDA_CHECK(cudaMemsetAsync(f->device.raw_data(), 0, kFlagBytes, cuda::stream()));
    CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&f->host), kFlagBytes, cudaHostAllocDefault));
    std::memset(f->host, 0, kFlagBytes);
    g_label_flag = f;
  }
  return *g_label_flag;
}

// The first thread to count a bad label also stores it, its row and C.
__device__ __forceinline__ void record_bad_label(int64_t* flag, int64_t label, int64_t row, int64_t C) {
  if (atomicAdd(reinterpret_cast<unsigned long long*>(flag), 1ull) == 0ull) {
    flag[1] = label;
    flag[2] = row;
    flag[3] = C;
  }
}

// One warp per row; the row's sums and the loss in double, as on the CPU.
template <class T>
__global__ void cross_entropy_forward_kernel(const T* __restrict__ x, const int64_t* __restrict__ labels,
                                             T* __restrict__ row_loss, T* __restrict__ lse_out, int64_t N, int64_t C,
                                             double eps, int64_t* flag) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < N; r += grid_warps()) {
    const T* row = x + r * C;
    T mt = dev_neg_inf<T>();
    for (int64_t c = lane; c < C; c += 32) mt = max_nan(row[c], mt);
    const double m = double(warp_max(mt));
    double sum_exp = 0.0, sum_x = 0.0;
    for (int64_t c = lane; c < C; c += 32) {
      sum_exp += std::exp(double(row[c]) - m);
      sum_x += double(row[c]);
    }
    sum_exp = warp_sum(sum_exp);
    sum_x = warp_sum(sum_x);
    if (lane == 0) {
      const double lse = log_sum_exp(m, sum_exp);
      const int64_t label = labels[r];
      if (label < 0 || label >= C) {
        row_loss[r] = dev_nan<T>();
        record_bad_label(flag, label, r, C);
      } else {
        row_loss[r] = T(cross_entropy_row_loss(lse, double(row[label]), sum_x, C, eps));
      }
      lse_out[r] = T(lse);
    }
  }
}

// One logit: independent of the others given the saved log-sum-exp.
template <class T>
struct CrossEntropyBackward {
  const T *x, *lse, *g;
  const int64_t* labels;
  T* dx;
  int64_t N, C;
  double eps;
  __device__ void operator()(int64_t k) const {
    const int64_t n = k / C, c = k % C, label = labels[n];
    if (label < 0 || label >= C) {
      dx[k] = dev_nan<T>();
    } else {
      // g lives on the device: the coefficients are recomputed per element rather than read back.
      const CrossEntropyGradCoeffs coeffs = cross_entropy_grad_coeffs(double(g[0]), N, C, eps);
      dx[k] = T(cross_entropy_grad(coeffs, double(x[k]), double(lse[n]), c == label));
    }
  }
};

// counters: [correct, bad labels, first bad label, its row]
template <class T>
__global__ void count_correct_kernel(const T* __restrict__ x, const int64_t* __restrict__ labels, int64_t N,
                                     int64_t C, int64_t* counters) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = global_warp(); r < N; r += grid_warps()) {
    const int64_t best_i = warp_row_argmax(x + r * C, C).index;
    if (lane == 0) {
      const int64_t label = labels[r];
      if (label < 0 || label >= C) {
        if (atomicAdd(reinterpret_cast<unsigned long long*>(counters + 1), 1ull) == 0ull) {
          counters[2] = label;
          counters[3] = r;
        }
      } else if (best_i == label) {
        atomicAdd(reinterpret_cast<unsigned long long*>(counters), 1ull);
      }
    }
  }
}

}  // namespace

void poll_label_errors() {
  if (!g_label_flag) return;
  // A plain read of pinned memory: it may lag the GPU, never blocks, and once it shows an error
  // check_label_errors() waits and reads the settled device flag.
  const volatile int64_t* mirror = g_label_flag->host;
  if (mirror[0] != 0) check_label_errors();
}

void check_label_errors() {
  if (!g_label_flag) return;
  LabelFlag& f = *g_label_flag;
  CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  int64_t v[4];
  copy_bytes(v, Device::cpu(), f.device.raw_data(), f.device.device(), kFlagBytes);
  // Nothing is queued now, so resetting both copies cannot race with the mirror's async refresh.
  CUDA_CHECK(cudaMemsetAsync(f.device.raw_data(), 0, kFlagBytes, cuda::stream()));
  std::memset(f.host, 0, kFlagBytes);
  if (v[0] != 0)
    EFFNET_THROW("cross_entropy: label ", v[1], " at row ", v[2], " is outside [0, ", v[3], ") (found on the GPU; ",
                 v[0], " bad label(s) since the last check)");
}

void cross_entropy_forward(const Tensor& logits, const Tensor& labels, double eps, Tensor& row_loss, Tensor& lse) {
  poll_label_errors();
  const int64_t N = logits.size(0), C = logits.size(1);
  LabelFlag& f = label_flag();
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::launch(cross_entropy_forward_kernel<scalar_t>, cuda::warp_per_row_grid(N), cuda::kThreads,
                 logits.data<scalar_t>(), labels.data<int64_t>(), row_loss.data<scalar_t>(), lse.data<scalar_t>(), N,
                 C, eps, f.device.data<int64_t>());
  });
  CUDA_CHECK(cudaMemcpyAsync(f.host, f.device.raw_data(), kFlagBytes, cudaMemcpyDeviceToHost, cuda::stream()));
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse, const Tensor& g,
                            double eps, Tensor& dx) {
  const int64_t N = logits.size(0), C = logits.size(1);
  dispatch_float(logits.dtype(), "cross_entropy backward", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::for_each(N * C, CrossEntropyBackward<scalar_t>{logits.data<scalar_t>(), lse.data<scalar_t>(),
                                                          g.data<scalar_t>(), labels.data<int64_t>(),
                                                          dx.data<scalar_t>(), N, C, eps});
  });
}

void count_correct(const Tensor& logits, const Tensor& labels, Tensor& counters) {
  const int64_t N = logits.size(0), C = logits.size(1);
  CUDA_CHECK(cudaMemsetAsync(counters.raw_data(), 0, kFlagBytes, cuda::stream()));
  count_cuda_launch();
  if (N == 0) return;
  dispatch_float(logits.dtype(), "count_correct", [&](auto tag) {
    using scalar_t = decltype(tag);
    cuda::launch(count_correct_kernel<scalar_t>, cuda::warp_per_row_grid(N), cuda::kThreads, logits.data<scalar_t>(),
                 labels.data<int64_t>(), N, C, counters.data<int64_t>());
  });
}

}  // namespace effnet::cuda_ops
