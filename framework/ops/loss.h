// Classification loss and metrics on (N, C) logits with int64 class labels (N).
//
// cross_entropy is fused: the forward computes log-softmax and picks the label's term in one pass
// per row; the backward writes (softmax - smoothed one-hot) * g / N directly. Label smoothing
// follows PyTorch: loss_n = (1 - eps) * (-log p[n, y_n]) + eps * mean_c(-log p[n, c]), and the
// result is the mean over n.
//
// Labels outside [0, C) are errors. On the CPU they throw at once, naming the label and its row.
// On the GPU the check must not stall the stream, so it is lazy: the kernel marks that row's loss
// and gradient NaN and records the first bad label in a device flag, copied asynchronously to
// pinned host memory. The next CUDA cross_entropy call (or check_label_errors(), which waits for
// the GPU) sees the flag and throws, naming the label, its row and C.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace effnet {

// logits: float32/float64 (N, C) with N, C > 0; labels: int64 (N) on the same device;
// 0 <= label_smoothing <= 1. Returns a 0-d tensor, differentiable w.r.t. logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);

// Rows whose argmax (first index on ties) equals the label; not differentiable. Reads the result
// back to the host, so it waits for the GPU. Bad labels throw on both backends.
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// The same without waiting: writes counters (int64 [4] on the logits' device) = [correct rows,
// labels outside [0, C), the first such label, its row], for a caller that gathers many batches'
// counts on the GPU and reads them back at once; correct_of(those values, C) then checks them
// (throwing on a bad label as count_correct does) and returns the count. On the CPU a bad label
// throws at once.
void count_correct_into(const Tensor& logits, const Tensor& labels, Tensor counters);
int64_t correct_of(const std::vector<int64_t>& counters, int64_t classes);
// count_correct / N (N > 0).
double accuracy(const Tensor& logits, const Tensor& labels);

// Waits for the GPU, then throws if any earlier CUDA cross_entropy call met a label outside
// [0, C) (and clears the record). Nothing to do without CUDA.
void check_label_errors();

}  // namespace effnet
