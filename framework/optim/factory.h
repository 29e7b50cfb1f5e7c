// Optimizers and learning-rate schedules by name, as a training run's settings name them
// ("sgd", "cosine", ...), so that the apps and anything else that trains build them one way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/optim/lr_schedule.h"
#include "framework/optim/optimizer.h"

namespace effnet {

struct OptimizerSpec {
  std::string name = "sgd";  // sgd | adam | adamw | rmsprop
  double lr = 0.005, momentum = 0.9, weight_decay = 1e-4;
};

struct ScheduleSpec {
  std::string name = "constant";       // constant | step | cosine
  double warmup_epochs = 0;            // cosine: linear warm-up
  double step_epochs = 10, gamma = 0.1;  // step: lr *= gamma every step_epochs epochs
  double min_lr = 0;                   // cosine floor
};

// Throw for an unknown name or a bad value, naming it, before any work is done.
void check_optimizer_spec(const OptimizerSpec& spec);
void check_schedule_spec(const ScheduleSpec& spec);

// SGD (PyTorch's), Adam/AdamW (beta 0.9/0.999, eps 1e-8), RMSprop (TF-style: rho 0.9, eps 1e-3).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, std::vector<Tensor> params);
// The schedule of `epochs` epochs of `steps_per_epoch` steps starting from base_lr; epoch counts
// in the spec are converted to steps (rounded).
std::unique_ptr<LRSchedule> make_schedule(const ScheduleSpec& spec, double base_lr, int64_t epochs,
                                          int64_t steps_per_epoch);

}  // namespace effnet
