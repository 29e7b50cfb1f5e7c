// CUDA half of batch_norm2d. Training forward/backward and eval forward go through cuDNN
// (CUDNN_BATCHNORM_SPATIAL) on the shared handle, which is bound to cuda::stream(); cuDNN keeps
// the batch mean and inverse std for the backward and updates the running statistics in place
// with exponentialAverageFactor = momentum and the unbiased batch variance, as PyTorch does (its
// cuDNN path passes momentum straight through). cuDNN has no eval-mode backward, so that one uses
// own kernels over the formulas of batch_norm_kernels.h that the CPU calls, in double like the
// CPU: a block per channel for the weight/bias reductions and an element functor for dx.
// A fused activation is one element kernel after cuDNN forward (in place) and one before its
// backward (the gradient of the normalised value, recomputed from x and the batch statistics).
#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include "framework/core/cuda_launch.cuh"
#include "framework/ops/batch_norm_kernels.h"

namespace effnet::cuda_ops {
namespace {

// Move-only owner of a cuDNN tensor descriptor (host-side objects, cheap to make per call).
class TensorDesc {
 public:
  TensorDesc() { CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
  ~TensorDesc() {
    if (desc_) cudnnDestroyTensorDescriptor(desc_);
  }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// The NCHW descriptor of x and the derived (1, C, 1, 1) descriptor of the per-channel tensors.
// Made once per input shape (bn_descs) and kept for the life of the process, like conv2d's plans:
// a training step then creates and destroys no descriptors.
struct BnDescs {
  TensorDesc x, channel;
  explicit BnDescs(const Tensor& t) {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(t.size(0)),
                                           int(t.size(1)), int(t.size(2)), int(t.size(3))));
    CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(channel.get(), x.get(), CUDNN_BATCHNORM_SPATIAL));
  }
};

const BnDescs& bn_descs(const Tensor& t) {
  EFFNET_CHECK(t.dtype() == DType::Float32, "batch_norm2d (CUDA): float32 expected, got ", t.str());
  EFFNET_CHECK(t.numel() <= INT_MAX, "batch_norm2d (CUDA): input too large for cuDNN: ", t.str());
  static std::mutex mu;
  static std::map<Shape, std::unique_ptr<BnDescs>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(t.shape());
  if (it == cache.end()) it = cache.emplace(t.shape(), std::make_unique<BnDescs>(t)).first;
  return *it->second;
}

void check_eps(double eps) {
  EFFNET_CHECK(eps >= CUDNN_BN_MIN_EPSILON, "batch_norm2d (CUDA): eps ", eps, " is below cuDNN's minimum ",
               CUDNN_BN_MIN_EPSILON);
}

struct Invstd {
  const float* var;
  float* invstd;
  double eps;
  __device__ void operator()(int64_t c) const { invstd[c] = float(bn_invstd(double(var[c]), eps)); }
};

// Sums a pair of doubles over the block; the result is valid in thread 0.
template <int THREADS>
__device__ void block_sum2(double& a, double& b) {
  __shared__ double sa[THREADS / 32], sb[THREADS / 32];
  for (int off = 16; off > 0; off /= 2) {
    a += __shfl_down_sync(0xffffffffu, a, off);
    b += __shfl_down_sync(0xffffffffu, b, off);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < THREADS / 32 ? sa[lane] : 0.0;
    b = lane < THREADS / 32 ? sb[lane] : 0.0;
    for (int off = 16; off > 0; off /= 2) {
      a += __shfl_down_sync(0xffffffffu, a, off);
      b += __shfl_down_sync(0xffffffffu, b, off);
    }
  }
}

constexpr int kReduceThreads = 256;

// One block per channel c: sum_g = sum of g, sum_gxc = sum of g * (x - mean) over N*H*W values.
// x == nullptr: only sum_g is wanted (the weight is frozen).
__global__ void eval_param_grad_kernel(const float* __restrict__ x, const float* __restrict__ g,
                                       const float* __restrict__ mean, const float* __restrict__ invstd,
                                       float* __restrict__ gw, float* __restrict__ gb, int64_t N, int64_t C,
                                       int64_t HW) {
  const int64_t c = blockIdx.x;
  const int64_t count = N * HW;
  const double m = x ? double(mean[c]) : 0.0;
  double sum_g = 0.0, sum_gxc = 0.0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const int64_t n = j / HW, i = (n * C + c) * HW + (j - n * HW);
    const double gi = double(g[i]);
    sum_g += gi;
    if (x) sum_gxc += bn_centered_product(gi, double(x[i]), m);
  }
  block_sum2<kReduceThreads>(sum_g, sum_gxc);
  if (threadIdx.x == 0) {
    if (gb) gb[c] = float(sum_g);
    if (gw) gw[c] = float(sum_gxc * double(invstd[c]));
  }
}

struct EvalInputGrad {
  const float *g, *weight, *invstd;
  float* gx;
  int64_t C, HW;
  __device__ void operator()(int64_t i) const {
    const int64_t c = (i / HW) % C;
    gx[i] = bn_eval_input_grad(g[i], bn_eval_grad_scale(double(weight[c]), double(invstd[c])));
  }
};

// g·act'(z) of a fused activation, z recomputed from x and the saved batch statistics.
template <UnaryOp OP>
struct ActivationInputGrad {
  const float *x, *g, *mean, *invstd, *weight, *bias;
  float* gz;
  int64_t C, HW;
  __device__ void operator()(int64_t i) const {
    const int64_t c = (i / HW) % C;
    const float z = bn_normalise(x[i], mean[c], weight[c] * invstd[c], bias[c]);
    gz[i] = unary_grad_from_input<float, OP>(g[i], z);
  }
};

}  // namespace

void batch_norm_train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                              Tensor& running_var, double momentum, double eps, FusedActivation act, Tensor& y,
                              Tensor& save_mean, Tensor& save_invstd) {
  check_eps(eps);
  const BnDescs& d = bn_descs(x);
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cuda::cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x.get(), x.data<float>(), d.x.get(), y.data<float>(),
      d.channel.get(), weight.data<float>(), bias.data<float>(), momentum, running_mean.data<float>(),
      running_var.data<float>(), eps, save_mean.data<float>(), save_invstd.data<float>()));
  // The activation in place on cuDNN's output (one element kernel; not fused into cuDNN's pass).
  dispatch_fused_activation(act, [&](auto op) { unary(decltype(op)::value, UnaryArgs{}, y, y); });
}

void batch_norm_eval_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& y) {
  check_eps(eps);
  const BnDescs& d = bn_descs(x);
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      cuda::cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x.get(), x.data<float>(), d.x.get(), y.data<float>(),
      d.channel.get(), weight.data<float>(), bias.data<float>(), running_mean.data<float>(),
      running_var.data<float>(), eps));
}

void batch_norm_invstd(const Tensor& var, double eps, Tensor& invstd) {
  EFFNET_CHECK(var.dtype() == DType::Float32, "batch_norm2d (CUDA): float32 expected, got ", var.str());
  cuda::for_each(var.numel(), Invstd{var.data<float>(), invstd.data<float>(), eps});
}

void batch_norm_train_backward(const Tensor& x, const Tensor& g_act, const Tensor& weight, const Tensor& bias,
                               const Tensor& save_mean, const Tensor& save_invstd, double eps, FusedActivation act,
                               Tensor& gx, Tensor& gw, Tensor& gb) {
  check_eps(eps);
  const BnDescs& d = bn_descs(x);
  // With an activation, cuDNN's backward gets the gradient of its output z first.
  Tensor g = g_act;
  dispatch_fused_activation(act, [&](auto op) {
    const int64_t C = x.size(1), HW = x.size(2) * x.size(3);
    g = Tensor::empty(x.shape(), x.dtype(), x.device());
    cuda::for_each(x.numel(), ActivationInputGrad<decltype(op)::value>{
                                  x.data<float>(), g_act.data<float>(), save_mean.data<float>(),
                                  save_invstd.data<float>(), weight.data<float>(), bias.data<float>(),
                                  g.data<float>(), C, HW});
  });
  // cuDNN always writes all three gradients: unwanted ones go to scratch from the allocator.
  Tensor dx = gx.defined() ? gx : Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw = gw.defined() ? gw : Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  Tensor db = gb.defined() ? gb : Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnBatchNormalizationBackward(
      cuda::cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, d.x.get(), x.data<float>(), d.x.get(),
      g.data<float>(), d.x.get(), dx.data<float>(), d.channel.get(), weight.data<float>(), dw.data<float>(),
      db.data<float>(), eps, save_mean.data<float>(), save_invstd.data<float>()));
}

void batch_norm_eval_backward(const Tensor& x, const Tensor& g, const Tensor& weight, const Tensor& mean,
                              const Tensor& invstd, Tensor& gx, Tensor& gw, Tensor& gb) {
  EFFNET_CHECK(g.dtype() == DType::Float32, "batch_norm2d backward (CUDA): float32 expected, got ", g.str());
  const int64_t N = g.size(0), C = g.size(1), HW = g.size(2) * g.size(3);
  if (gx.defined())
    cuda::for_each(g.numel(),
                   EvalInputGrad{g.data<float>(), weight.data<float>(), invstd.data<float>(), gx.data<float>(), C, HW});
  if ((gw.defined() || gb.defined()) && C > 0) {
    // x and mean are saved only when the weight needs a gradient. An empty batch sums to 0, as on
    // the CPU.
    const float* px = gw.defined() ? x.data<float>() : nullptr;
    const float* pm = gw.defined() ? mean.data<float>() : nullptr;
    cuda::launch(eval_param_grad_kernel, unsigned(C), kReduceThreads, px, g.data<float>(), pm, invstd.data<float>(),
                 gw.defined() ? gw.data<float>() : nullptr, gb.defined() ? gb.data<float>() : nullptr, N, C, HW);
  }
}

}  // namespace effnet::cuda_ops
