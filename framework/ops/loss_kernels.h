// Backend entry points of the losses (loss_cpu.cpp, loss_cuda.cu). logits are contiguous (N, C),
// labels int64 (N). The CPU halves throw on a bad label; the CUDA halves record it in a device
// flag instead (see loss.h).
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"

namespace effnet {

namespace cpu {
// row_loss[n] = (1 - eps) * (lse_n - x[n, y_n]) + eps * (lse_n - mean_c x[n, c]); lse[n] saved
// for backward.
void cross_entropy_forward(const Tensor& logits, const Tensor& labels, double eps, Tensor& row_loss, Tensor& lse);
// dx[n, c] = (exp(x[n, c] - lse_n) - (1 - eps) * [c == y_n] - eps / C) * g / N, g a 1-element tensor.
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse, const Tensor& g,
                            double eps, Tensor& dx);
int64_t count_correct(const Tensor& logits, const Tensor& labels);
}  // namespace cpu

namespace cuda_ops {
void cross_entropy_forward(const Tensor& logits, const Tensor& labels, double eps, Tensor& row_loss, Tensor& lse);
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse, const Tensor& g,
                            double eps, Tensor& dx);
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// Throws if the pinned mirror of the label flag already shows an error (no wait); called on entry.
void poll_label_errors();
// Waits for the stream, then throws on a recorded bad label.
void check_label_errors();
}  // namespace cuda_ops

}  // namespace effnet
