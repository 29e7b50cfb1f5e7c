// Learning-rate schedules: pure functions of the optimizer's step count, so resuming a run needs
// only Optimizer::step_count() and no schedule state. Step s is the update about to be made
// (0 for the first one); the training loop does
//   opt.set_lr(schedule.lr_at(opt.step_count())); opt.step();
#pragma once

#include <cstdint>

namespace effnet {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  // Throws for a negative step.
  virtual double lr_at(int64_t step) const = 0;
};

class ConstantLR : public LRSchedule {
 public:
  explicit ConstantLR(double base_lr);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
};

// base_lr · gamma^floor(step / step_size). EfficientNet's "0.97 every 2.4 epochs" is
// StepLR(base, round(2.4 · steps_per_epoch), 0.97).
class StepLR : public LRSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

// Linear warm-up, then half a cosine down to min_lr:
//   step < warmup:           base_lr · (step + 1) / warmup_steps   (first step base/warmup, never 0)
//   warmup <= step < total:  min_lr + (base_lr - min_lr) · (1 + cos(pi · (step - warmup) / (total - warmup))) / 2
//   step >= total:           min_lr
class CosineLR : public LRSchedule {
 public:
  // Requires 0 <= warmup_steps < total_steps and 0 <= min_lr <= base_lr.
  CosineLR(double base_lr, int64_t total_steps, int64_t warmup_steps = 0, double min_lr = 0.0);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
  int64_t total_steps_, warmup_steps_;
  double min_lr_;
};

}  // namespace effnet
