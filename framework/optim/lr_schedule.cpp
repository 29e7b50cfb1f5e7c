// Learning-rate schedules: argument checks and the closed-form value at a step.
#include "framework/optim/lr_schedule.h"

#include <cmath>

#include "framework/core/error.h"

namespace effnet {

namespace {
void check_base(const char* schedule, double base_lr) {
  EFFNET_CHECK(std::isfinite(base_lr) && base_lr >= 0.0, schedule, ": base learning rate must be finite and >= 0, got ",
               base_lr);
}
void check_step(const char* schedule, int64_t step) {
  EFFNET_CHECK(step >= 0, schedule, ": step must be >= 0, got ", step);
}
}  // namespace

ConstantLR::ConstantLR(double base_lr) : base_lr_(base_lr) { check_base("ConstantLR", base_lr); }

double ConstantLR::lr_at(int64_t step) const {
  check_step("ConstantLR", step);
  return base_lr_;
}

StepLR::StepLR(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
  check_base("StepLR", base_lr);
  EFFNET_CHECK(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
  EFFNET_CHECK(std::isfinite(gamma) && gamma > 0.0, "StepLR: gamma must be > 0, got ", gamma);
}

double StepLR::lr_at(int64_t step) const {
  check_step("StepLR", step);
  return base_lr_ * std::pow(gamma_, double(step / step_size_));
}

CosineLR::CosineLR(double base_lr, int64_t total_steps, int64_t warmup_steps, double min_lr)
    : base_lr_(base_lr), total_steps_(total_steps), warmup_steps_(warmup_steps), min_lr_(min_lr) {
  check_base("CosineLR", base_lr);
  EFFNET_CHECK(warmup_steps >= 0 && warmup_steps < total_steps, "CosineLR: need 0 <= warmup_steps < total_steps, got ",
               warmup_steps, " and ", total_steps);
  EFFNET_CHECK(std::isfinite(min_lr) && min_lr >= 0.0 && min_lr <= base_lr,
               "CosineLR: need 0 <= min_lr <= base learning rate, got min_lr ", min_lr, " and base ", base_lr);
}

double CosineLR::lr_at(int64_t step) const {
  check_step("CosineLR", step);
  if (step < warmup_steps_) return base_lr_ * double(step + 1) / double(warmup_steps_);
  if (step >= total_steps_) return min_lr_;
  const double progress = double(step - warmup_steps_) / double(total_steps_ - warmup_steps_);
  return min_lr_ + (base_lr_ - min_lr_) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace effnet
