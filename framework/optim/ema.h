// ExponentialMovingAverage: a running average of a model's weights and running statistics,
//   avg = decay_t · avg + (1 - decay_t) · x   after every optimizer step,
// evaluated in the model's place (swap()) for validation and pseudo-labelling, where it is less
// noisy than the last step's weights (Polyak averaging; EfficientNet's TF training keeps one with
// decay 0.9999, timm's ModelEmaV2 likewise averages the buffers too).
//
// The decay warms up as TensorFlow's tf.train.ExponentialMovingAverage(num_updates=step) does:
// decay_t = min(decay, (1 + t) / (10 + t)) for the t-th update (t from 0), so the first updates
// follow the weights closely and a short fine-tuning run is not dominated by its starting point.
//
// One multi-tensor backend call per update (ema_update, optim_kernels.h: the same launch scheme
// as the optimizers). State for checkpoints: the averages under the sources' names, and the count
// of updates, which the warm-up depends on; restoring both resumes bit-identically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace effnet {

class ExponentialMovingAverage {
 public:
  // `sources`: named float tensors (a model's state(): the handles stay valid when the model moves
  // between devices, but the averages are made on the sources' devices now, so build this after
  // moving the model). decay in [0, 1).
  ExponentialMovingAverage(NamedTensors sources, double decay);

  // decay_t of the t-th update (t from 0).
  double decay_at(int64_t t) const;
  // One update from the sources' current values (under no-grad; bumps the averages' versions).
  void update();
  // Exchanges the sources' values with the averages', in place: the model then computes with the
  // averaged weights until swap() is called again.
  void swap();

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  // The averages themselves (not copies), under the sources' names.
  const NamedTensors& averages() const { return averages_; }
  // Replaces every average (each name once, the sources' shapes; values copied onto the
  // averages' devices) and the update count. Checks everything before changing anything.
  void load_state(const NamedTensors& averages, int64_t updates);

 private:
  NamedTensors sources_, averages_;
  double decay_;
  int64_t updates_ = 0;
};

}  // namespace effnet
