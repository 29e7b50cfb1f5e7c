// Comparison helpers: element-wise closeness with a readable failure message, and the CPU-vs-CUDA
// check that runs a function on CPU inputs and on their CUDA copies, then compares outputs and the
// gradients of every input that requires grad.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "framework/framework.h"

namespace effnet::testing {

// |a - b| <= atol + rtol * |b| everywhere (after moving both to CPU float64); NaN never passes.
::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-6,
                                     const std::string& what = "tensor");
// ||a - b|| / ||b||
double relative_l2(const Tensor& a, const Tensor& b);
// The same over lists of tensors taken as one vector (a whole model's parameters, say), where
// per-tensor errors would be dominated by tensors that hold nothing but rounding.
double relative_l2(const std::vector<Tensor>& a, const std::vector<Tensor>& b);

struct CompareOptions {
  double rtol = 1e-4;
  double atol = 1e-5;
  bool check_grads = true;
  uint64_t seed = 99;  // projection weights for backward
};

// f is run twice: on `inputs` (CPU, float32) and on copies moved to the GPU with the same
// requires_grad flags.
::testing::AssertionResult cpu_cuda_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                          const std::vector<Tensor>& inputs, const CompareOptions& opts = {});

}  // namespace effnet::testing

// First line of every CUDA test.
#define EFFNET_REQUIRE_CUDA()                                                        \
  do {                                                                               \
    if (!::effnet::cuda::available()) GTEST_SKIP() << "no CUDA GPU visible (or CPU-only build)"; \
  } while (0)
