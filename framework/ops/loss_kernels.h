// Backend entry points of the losses (loss_cpu.cpp, loss_cuda.cu) and the per-element formulas
// both halves call, in double on both (the CPU's reference precision; the kernels are
// memory-bound, so double costs the GPU little). logits are contiguous (N, C), labels int64 (N).
// The CPU halves throw on a bad label; the CUDA halves record it in a device flag instead (see
// loss.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "framework/core/backend.h"
#include "framework/core/host_device.h"
#include "framework/core/tensor.h"

namespace effnet {

// The loss of one row from its log-sum-exp, the label's logit and the sum of its logits:
// (1 - eps)·(lse - x_label) + eps·(lse - mean_c x_c). eps == 0 skips the smoothing term so that
// an infinite logit elsewhere cannot turn 0 * inf into NaN.
EFFNET_HD double cross_entropy_row_loss(double lse, double label_logit, double sum_logits, int64_t C, double eps) {
  const double nll = lse - label_logit;
  return eps > 0.0 ? (1.0 - eps) * nll + eps * (lse - sum_logits / double(C)) : nll;
}

// The gradient of one logit, (softmax - target)·g / N with target = (1 - eps)·[c == label] + eps / C,
// from coefficients computed once per launch.
struct CrossEntropyGradCoeffs {
  double scale, off, hit;  // g / N, eps / C, 1 - eps
};
EFFNET_HD CrossEntropyGradCoeffs cross_entropy_grad_coeffs(double g, int64_t N, int64_t C, double eps) {
  return {g / double(N), eps / double(C), 1.0 - eps};
}
EFFNET_HD double cross_entropy_grad(const CrossEntropyGradCoeffs& k, double x, double lse, bool is_label) {
  const double target = (is_label ? k.hit : 0.0) + k.off;
  return (std::exp(x - lse) - target) * k.scale;
}

// cross_entropy_forward: row_loss[n] = cross_entropy_row_loss(lse_n, ...), lse[n] saved for the
// backward; cross_entropy_backward: dx[n, c] = cross_entropy_grad(...), g a 1-element tensor.
// count_correct: writes counters (int64 (4) on the logits' device) = [rows whose argmax is the
// label, labels outside [0, C), the first such label, its row], without waiting for the GPU.
#define EFFNET_LOSS_BACKEND(X)                                                                                 \
  X(void, cross_entropy_forward,                                                                               \
    (const Tensor& logits, const Tensor& labels, double eps, Tensor& row_loss, Tensor& lse))                   \
  X(void, cross_entropy_backward,                                                                              \
    (const Tensor& logits, const Tensor& labels, const Tensor& lse, const Tensor& g, double eps, Tensor& dx)) \
  X(void, count_correct, (const Tensor& logits, const Tensor& labels, Tensor& counters))
EFFNET_DECLARE_BACKENDS(EFFNET_LOSS_BACKEND)

// The CUDA half's deferred label check (no CPU half: the CPU checks labels before the kernels).
namespace cuda_ops {
// Throws if the pinned mirror of the label flag already shows an error (no wait); called on entry.
void poll_label_errors();
// Waits for the stream, then throws on a recorded bad label.
void check_label_errors();
}  // namespace cuda_ops

}  // namespace effnet
