// CUDA half of conv2d: cuDNN, one grouped call per direction (cudnnSetConvolutionGroupCount, so
// depthwise and grouped convolutions are single calls, not loops over groups).
//
// Per shape configuration a ConvPlan holds the descriptors and, chosen on first use by cuDNN's
// heuristics (cudnnGet*Algorithm_v7: no benchmarking, so no host synchronisation and no memory
// taken behind the allocator's back), one algorithm per direction with its workspace size. Plans
// are cached for the life of the process. Workspaces come from the caching allocator. With
// cuda::deterministic_algorithms() (the default) only algorithms cuDNN reports as deterministic
// are taken, and the fallbacks are deterministic ones (BWD_DATA_ALGO_1, BWD_FILTER_ALGO_1; the
// _0 algorithms accumulate with atomics); a change of the setting re-chooses.
//
// Math type: CUDNN_FMA_MATH, not CUDNN_DEFAULT_MATH. On Ampere and newer, DEFAULT permits TF32
// tensor-core kernels for float32 data (10-bit mantissa products), which would break agreement
// with the CPU oracle; FMA_MATH restricts cuDNN to true float32 FMA kernels (PyTorch does the
// same when TF32 is off).
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/ops/conv2d_kernels.h"

namespace effnet::cuda_ops {
namespace {

constexpr cudnnMathType_t kMathType = CUDNN_FMA_MATH;
// Algorithms whose workspace exceeds this are passed over (the heuristics rank by speed only).
constexpr size_t kMaxWorkspaceBytes = size_t(1) << 30;

// ---- RAII descriptors ---------------------------------------------------------------------------
// Move-only owner of one cuDNN descriptor; the destructor reports a failed destroy instead of
// throwing.
template <class Desc, cudnnStatus_t (*Create)(Desc*), cudnnStatus_t (*Destroy)(Desc)>
class Descriptor {
 public:
  Descriptor() { CUDNN_CHECK(Create(&desc_)); }
  ~Descriptor() {
    if (!desc_) return;
    cudnnStatus_t s = Destroy(desc_);
    if (s != CUDNN_STATUS_SUCCESS) std::fprintf(stderr, "effnet: destroying a cuDNN descriptor failed: %s\n",
                                                cudnnGetErrorString(s));
  }
  Descriptor(Descriptor&& o) noexcept : desc_(o.desc_) { o.desc_ = nullptr; }
  Descriptor& operator=(Descriptor&&) = delete;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Desc get() const { return desc_; }

 private:
  Desc desc_ = nullptr;
};

using TensorDescriptor = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

int to_int(int64_t v, const char* what) {
  EFFNET_CHECK(v <= std::numeric_limits<int>::max(), "conv2d (cuDNN): ", what, " ", v, " does not fit in int");
  return int(v);
}

template <class Algo>
struct ChosenAlgo {
  bool chosen = false;
  bool deterministic = false;  // chosen under deterministic_algorithms()
  Algo algo{};
  size_t workspace_bytes = 0;
};

// Everything cuDNN needs for one shape configuration; built once, then only read.
struct ConvPlan {
  TensorDescriptor x, y, bias;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  ChosenAlgo<cudnnConvolutionFwdAlgo_t> fwd;
  ChosenAlgo<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  ChosenAlgo<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;

  explicit ConvPlan(const Conv2dGeometry& g) {
    EFFNET_CHECK(g.n * g.c_in * g.h * g.w <= std::numeric_limits<int>::max() &&
                     g.n * g.c_out * g.ho * g.wo <= std::numeric_limits<int>::max(),
                 "conv2d (cuDNN): tensors of 2^31 or more elements are not supported (input ", g.n, "x", g.c_in,
                 "x", g.h, "x", g.w, ")");
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(g.n, "batch"),
                                           to_int(g.c_in, "channels"), to_int(g.h, "height"), to_int(g.w, "width")));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(y.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(g.n), int(g.c_out),
                                           int(g.ho), int(g.wo)));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, int(g.c_out), 1, 1));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(g.c_out),
                                           int(g.c_in_per_group()), int(g.kh), int(g.kw)));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.get(), int(g.pad_h), int(g.pad_w), int(g.stride_h),
                                                int(g.stride_w), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), int(g.groups)));
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), kMathType));
  }
};

// Takes the heuristics' fastest algorithm that succeeds in plain float32 FMA math within the
// workspace cap (and is deterministic when that is asked for); `fallback` (a deterministic
// implicit-GEMM algorithm that supports every configuration and needs little workspace) when none
// qualifies.
template <class Perf, class Algo, class WorkspaceFn>
void choose(ChosenAlgo<Algo>& out, const Perf* perf, int returned, Algo fallback, WorkspaceFn workspace_size) {
  const bool deterministic = cuda::deterministic_algorithms();
  out.algo = fallback;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == kMathType &&
        perf[i].memory <= kMaxWorkspaceBytes && (!deterministic || perf[i].determinism == CUDNN_DETERMINISTIC)) {
      out.algo = perf[i].algo;
      break;
    }
  }
  CUDNN_CHECK(workspace_size(out.algo, &out.workspace_bytes));
  out.chosen = true;
  out.deterministic = deterministic;
}

// Whether a direction's algorithm must be (re)chosen: never chosen, or under the other setting.
template <class Algo>
bool stale(const ChosenAlgo<Algo>& c) {
  return !c.chosen || c.deterministic != cuda::deterministic_algorithms();
}

class PlanCache {
 public:
  // The plan for g with the algorithms of the requested directions chosen. Plans are never
  // removed, so the reference stays valid.
  ConvPlan& get(const Conv2dGeometry& g, bool need_fwd, bool need_bwd_data, bool need_bwd_filter) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(g.key());
    if (it == plans_.end()) it = plans_.emplace(g.key(), std::make_unique<ConvPlan>(g)).first;
    ConvPlan& p = *it->second;
    cudnnHandle_t h = cuda::cudnn();
    if (need_fwd && stale(p.fwd)) {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      int returned = 0;
      CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(),
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
      choose(p.fwd, perf, returned, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
             [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
               return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(), a,
                                                              bytes);
             });
    }
    if (need_bwd_data && stale(p.bwd_data)) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      int returned = 0;
      CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.get(), p.y.get(), p.conv.get(), p.x.get(),
                                                              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf));
      choose(p.bwd_data, perf, returned, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
             [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
               return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), p.conv.get(), p.x.get(),
                                                                   a, bytes);
             });
    }
    if (need_bwd_filter && stale(p.bwd_filter)) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      int returned = 0;
      CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.get(), p.y.get(), p.conv.get(), p.w.get(),
                                                                CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                                perf));
      choose(p.bwd_filter, perf, returned, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
             [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
               return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), p.conv.get(),
                                                                     p.w.get(), a, bytes);
             });
    }
    return p;
  }

 private:
  std::mutex mu_;
  std::map<decltype(Conv2dGeometry{}.key()), std::unique_ptr<ConvPlan>> plans_;
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache();  // never destroyed, like the context it depends on
  return *cache;
}

// A workspace of at least `bytes` from the caching allocator (undefined when none is needed). It
// may be released as soon as the call is queued: the allocator is stream-ordered.
Tensor workspace(size_t bytes, Device device) {
  if (bytes == 0) return Tensor();
  return Tensor::empty({int64_t((bytes + 3) / 4)}, DType::Float32, device);
}
void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

void check_float32(const Tensor& t) {
  EFFNET_CHECK(t.dtype() == DType::Float32, "conv2d (cuDNN): float32 expected, got ", t.str());
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Conv2dGeometry& g) {
  check_float32(x);
  ConvPlan& p = plan_cache().get(g, true, false, false);
  Tensor ws = workspace(p.fwd.workspace_bytes, x.device());
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnConvolutionForward(cuda::cudnn(), &one, p.x.get(), x.raw_data(), p.w.get(), w.raw_data(),
                                      p.conv.get(), p.fwd.algo, ptr(ws), p.fwd.workspace_bytes, &zero, p.y.get(),
                                      y.raw_data()));
  if (bias.defined()) {
    count_cuda_launch();
    CUDNN_CHECK(cudnnAddTensor(cuda::cudnn(), &one, p.bias.get(), bias.raw_data(), &one, p.y.get(), y.raw_data()));
  }
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  check_float32(gy);
  ConvPlan& p = plan_cache().get(g, false, true, false);
  Tensor ws = workspace(p.bwd_data.workspace_bytes, gy.device());
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnConvolutionBackwardData(cuda::cudnn(), &one, p.w.get(), w.raw_data(), p.y.get(), gy.raw_data(),
                                           p.conv.get(), p.bwd_data.algo, ptr(ws), p.bwd_data.workspace_bytes, &zero,
                                           p.x.get(), gx.raw_data()));
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, Tensor& gw, const Conv2dGeometry& g) {
  check_float32(gy);
  ConvPlan& p = plan_cache().get(g, false, false, true);
  Tensor ws = workspace(p.bwd_filter.workspace_bytes, gy.device());
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda::cudnn(), &one, p.x.get(), x.raw_data(), p.y.get(), gy.raw_data(),
                                             p.conv.get(), p.bwd_filter.algo, ptr(ws), p.bwd_filter.workspace_bytes,
                                             &zero, p.w.get(), gw.raw_data()));
}

void conv2d_backward_bias(const Tensor& gy, Tensor& gb, const Conv2dGeometry& g) {
  check_float32(gy);
  ConvPlan& p = plan_cache().get(g, false, false, false);
  const float one = 1.0f, zero = 0.0f;
  count_cuda_launch();
  CUDNN_CHECK(cudnnConvolutionBackwardBias(cuda::cudnn(), &one, p.y.get(), gy.raw_data(), &zero, p.bias.get(),
                                           gb.raw_data()));
}

}  // namespace effnet::cuda_ops
