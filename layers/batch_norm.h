// BatchNorm2d layer: affine weight/bias, running mean/var buffers, eps and momentum in PyTorch's
// convention (running = (1 - momentum) * running + momentum * batch). TF-lineage EfficientNets use
// eps 1e-3 / momentum 0.01; PyTorch-trained ones 1e-5 / 0.1.
#pragma once

#include "framework/ops/sync_batch_norm.h"
#include "framework/ops/unary.h"
#include "layers/module.h"

namespace effnet::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
};

class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, const BatchNormOptions& opts = {});
  Tensor forward(const Tensor& x) override;
  // forward then the activation, fused into one op in (unsynchronised) training (batch_norm.h).
  Tensor forward(const Tensor& x, FusedActivation act);
  std::string type_name() const override { return "BatchNorm2d"; }
  const BatchNormOptions& options() const { return opts_; }
  void set_options(const BatchNormOptions& o) { opts_ = o; }
  int64_t channels() const { return channels_; }
  // Training-mode statistics over all ranks of a data-parallel job through this all-reduce
  // (ops/sync_batch_norm.h); an empty function returns to per-process statistics.
  void set_sync(AllReduceSum all_reduce_sum) { sync_ = std::move(all_reduce_sum); }
  bool synchronised() const { return bool(sync_); }
  Tensor weight, bias, running_mean, running_var;

 private:
  int64_t channels_;
  BatchNormOptions opts_;
  AllReduceSum sync_;
};

// Sets (or, with an empty function, clears) the all-reduce of every BatchNorm2d in `root`'s tree;
// returns how many there are.
int64_t set_sync_batch_norm(Module& root, const AllReduceSum& all_reduce_sum);

}  // namespace effnet::nn
