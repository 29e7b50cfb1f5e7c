// batch_norm2d: validation, the running-statistics contract, autograd nodes and dispatch, and the
// activation fused into training mode. Kernels
// live in batch_norm_cpu.cpp and batch_norm_cuda.cu (cuDNN).
#include "framework/ops/batch_norm.h"

#include <cmath>

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/ops/batch_norm_kernels.h"

namespace effnet {
namespace {

void check_param(const Tensor& x, const Tensor& t, const char* what) {
  EFFNET_CHECK(t.defined(), "batch_norm2d: ", what, " is undefined (affine batch norm needs weight, bias, "
               "running_mean and running_var)");
  const int64_t C = x.size(1);
  EFFNET_CHECK(t.shape() == Shape{C}, "batch_norm2d: ", what, " must have shape [", C, "] for input ", x.str(),
               ", got ", t.str());
  EFFNET_CHECK(t.dtype() == x.dtype(), "batch_norm2d: ", what, " ", t.str(), " and input ", x.str(),
               " have different dtypes");
  EFFNET_SAME_DEVICE("batch_norm2d", x, t);
}

void check_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  EFFNET_CHECK(x.defined(), "batch_norm2d: undefined input");
  EFFNET_CHECK(x.dim() == 4, "batch_norm2d: expected a 4-D (N, C, H, W) input, got ", x.str());
  EFFNET_CHECK(is_floating(x.dtype()), "batch_norm2d: floating input expected, got ", x.str());
  EFFNET_CHECK(!x.is_cuda() || x.dtype() == DType::Float32, "batch_norm2d: CUDA inputs must be float32, got ",
               x.str());
  EFFNET_CHECK(x.numel() > 0, "batch_norm2d: empty input ", x.str());
  check_param(x, weight, "weight");
  check_param(x, bias, "bias");
  check_param(x, running_mean, "running_mean");
  check_param(x, running_var, "running_var");
  EFFNET_CHECK(!running_mean.requires_grad() && !running_var.requires_grad(),
               "batch_norm2d: running_mean and running_var are buffers and must not require grad");
  EFFNET_CHECK(momentum >= 0.0 && momentum <= 1.0, "batch_norm2d: momentum must be in [0, 1], got ", momentum);
  EFFNET_CHECK(eps > 0.0 && std::isfinite(eps), "batch_norm2d: eps must be positive and finite, got ", eps);
  if (training) {
    int64_t per_channel = x.size(0) * x.size(2) * x.size(3);
    EFFNET_CHECK(per_channel > 1, "batch_norm2d: expected more than 1 value per channel when training, got input ",
                 x.str());
  }
}

// The gradients a backward node returns for (x, weight, bias): each allocated only where its input
// wants one (next[i]), x's like `like_x`, weight's and bias's like `weight`; undefined ones are
// not computed.
std::vector<Tensor> wanted_grads(const Node& node, const Tensor& like_x, const Tensor& weight) {
  std::vector<Tensor> grads(3);
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& like = i == 0 ? like_x : weight;
    if (node.next[i]) grads[i] = Tensor::empty(like.shape(), like.dtype(), like.device());
  }
  return grads;
}

// Training mode: the batch statistics depend on x, so every output element depends on every input
// element of its channel. Saves x, weight and the batch mean / inverse std of the forward pass.
// With an activation it saves the bias too, to recompute the activation's input.
struct BatchNormTrainBackward : Node {
  double eps = 0.0;
  FusedActivation act = FusedActivation::None;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor x = saved(0), weight = saved(1), mean = saved(2), invstd = saved(3), bias = saved(4);
    std::vector<Tensor> d = wanted_grads(*this, x, weight);
    // The fused backward keeps g·act'(z) in gx between its passes: gx is needed whether wanted or not.
    Tensor gx = d[0].defined() || act == FusedActivation::None ? d[0] : Tensor::empty(x.shape(), x.dtype(), x.device());
    EFFNET_DISPATCH(x, batch_norm_train_backward, x, g, weight, bias, mean, invstd, eps, act, gx, d[1], d[2]);
    return d;
  }
  const char* name() const override {
    return act == FusedActivation::None ? "BatchNormTrainBackward" : "BatchNormActivationTrainBackward";
  }
};

// Eval mode: y = x * (weight * invstd) + (bias - mean * weight * invstd) with constant statistics.
// Saves weight, and x and the running mean only when the weight needs a gradient (frozen batch
// norm then keeps no activation alive).
struct BatchNormEvalBackward : Node {
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor weight = saved(0), invstd = saved(1), x = saved(2), mean = saved(3);
    std::vector<Tensor> d = wanted_grads(*this, g, weight);
    EFFNET_DISPATCH(g, batch_norm_eval_backward, x, g, weight, mean, invstd, d[0], d[1], d[2]);
    return d;
  }
  const char* name() const override { return "BatchNormEvalBackward"; }
};

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps, FusedActivation act) {
  check_inputs(x, weight, bias, running_mean, running_var, training, momentum, eps);
  const int64_t C = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const bool record = autograd::needs_grad({&x, &weight, &bias});

  if (training) {
    Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
    Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
    EFFNET_DISPATCH(x, batch_norm_train_forward, x, weight, bias, running_mean, running_var, momentum, eps, act, y,
                    save_mean, save_invstd);
    running_mean.bump_version();
    running_var.bump_version();
    if (record) {
      auto node = std::make_shared<BatchNormTrainBackward>();
      node->eps = eps;
      node->act = act;
      node->save(x);
      node->save(weight);
      node->save(save_mean);
      node->save(save_invstd);
      node->save(act == FusedActivation::None ? Tensor() : bias);
      autograd::record(y, node, {&x, &weight, &bias});
    }
    return y;
  }

  EFFNET_DISPATCH(x, batch_norm_eval_forward, x, weight, bias, running_mean, running_var, eps, y);
  if (record) {
    // The backward keeps its own copy of the statistics, so that a later training-mode step that
    // updates the running buffers in place cannot change (or invalidate) this gradient.
    Tensor invstd = Tensor::empty({C}, x.dtype(), x.device());
    EFFNET_DISPATCH(x, batch_norm_invstd, running_var, eps, invstd);
    const bool weight_grad = weight.requires_grad();
    auto node = std::make_shared<BatchNormEvalBackward>();
    node->save(weight);
    node->save(invstd);
    node->save(weight_grad ? x : Tensor());
    node->save(weight_grad ? running_mean.detach().clone() : Tensor());
    autograd::record(y, node, {&x, &weight, &bias});
  }
  return apply_activation(y, act);
}

}  // namespace effnet
