// Optimizers and schedules by name (see factory.h).
#include "framework/optim/factory.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"
#include "framework/optim/adam.h"
#include "framework/optim/rmsprop.h"
#include "framework/optim/sgd.h"

namespace effnet {

void check_optimizer_spec(const OptimizerSpec& s) {
  EFFNET_CHECK(s.name == "sgd" || s.name == "adam" || s.name == "adamw" || s.name == "rmsprop", "unknown optimizer '",
               s.name, "' (known: sgd, adam, adamw, rmsprop)");
  EFFNET_CHECK(s.lr > 0 && std::isfinite(s.lr), "the learning rate must be positive, got ", s.lr);
  EFFNET_CHECK(s.momentum >= 0 && s.weight_decay >= 0, "momentum and weight decay must be >= 0");
}

void check_schedule_spec(const ScheduleSpec& s) {
  EFFNET_CHECK(s.name == "constant" || s.name == "step" || s.name == "cosine", "unknown schedule '", s.name,
               "' (known: constant, step, cosine)");
  EFFNET_CHECK(s.warmup_epochs >= 0 && s.step_epochs > 0 && s.gamma > 0 && s.min_lr >= 0,
               "bad schedule settings (warmup-epochs >= 0, step-epochs > 0, gamma > 0, min-lr >= 0)");
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& s, std::vector<Tensor> params) {
  check_optimizer_spec(s);
  if (s.name == "sgd") return std::make_unique<SGD>(std::move(params), s.lr, s.momentum, 0.0, s.weight_decay);
  if (s.name == "adam") return std::make_unique<Adam>(std::move(params), s.lr, 0.9, 0.999, 1e-8, s.weight_decay);
  if (s.name == "adamw") return std::make_unique<AdamW>(std::move(params), s.lr, 0.9, 0.999, 1e-8, s.weight_decay);
  return std::make_unique<RMSprop>(std::move(params), s.lr, 0.9, s.momentum, 1e-3, s.weight_decay);
}

std::unique_ptr<LRSchedule> make_schedule(const ScheduleSpec& s, double base_lr, int64_t epochs,
                                          int64_t steps_per_epoch) {
  check_schedule_spec(s);
  if (s.name == "constant") return std::make_unique<ConstantLR>(base_lr);
  if (s.name == "step") {
    const int64_t size = std::max<int64_t>(1, std::llround(s.step_epochs * double(steps_per_epoch)));
    return std::make_unique<StepLR>(base_lr, size, s.gamma);
  }
  const int64_t total = std::max<int64_t>(1, epochs * steps_per_epoch);
  const int64_t warmup = std::min<int64_t>(total - 1, std::llround(s.warmup_epochs * double(steps_per_epoch)));
  return std::make_unique<CosineLR>(base_lr, total, warmup, std::min(s.min_lr, base_lr));
}

}  // namespace effnet
