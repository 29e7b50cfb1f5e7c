// GradientChecker: compares the analytic gradients that backward() produces with central
// differences, in float64 on the CPU. The checked function may return any shape: the checker
// differentiates L = sum(f(x) * w) with a fixed random w, so every output element contributes.
// Inputs that require grad are checked element by element; elements whose input value lies within
// `kink_band` of one of `kinks` (0 for ReLU, 0 and 6 for ReLU6) are skipped, since central
// differences are meaningless across a kink.
#pragma once

#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "framework/framework.h"

namespace effnet::testing {

struct GradCheckOptions {
  double eps = 1e-6;   // finite-difference step
  double rtol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double atol = 1e-7;
  std::vector<double> kinks;
  double kink_band = 1e-3;
  uint64_t seed = 1234;  // for the projection weights
  int max_elements = 0;  // > 0: check only this many evenly spread elements per input
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs must be float64 CPU tensors; those with requires_grad are checked.
::testing::AssertionResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs,
                                     const GradCheckOptions& opts = {});

// A float64 CPU tensor of uniform values in [low, high) that requires grad.
Tensor grad_input(const Shape& shape, double low = -1.0, double high = 1.0, uint64_t seed = 7);

}  // namespace effnet::testing
