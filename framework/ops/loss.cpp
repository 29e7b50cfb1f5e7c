// cross_entropy, count_correct, accuracy: validation (shapes, dtypes, devices, label range on the
// CPU), autograd and dispatch. Kernels live in loss_cpu.cpp and loss_cuda.cu.
#include "framework/ops/loss.h"

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/core/context.h"
#include "framework/ops/loss_kernels.h"
#include "framework/ops/reduce.h"

namespace effnet {
namespace {

void check_inputs(const char* op, const Tensor& logits, const Tensor& labels) {
  EFFNET_CHECK(logits.dim() == 2, op, ": logits must be (N, C), got ", logits.str());
  EFFNET_CHECK(is_floating(logits.dtype()), op, ": logits must be floating, got ", logits.str());
  EFFNET_CHECK(labels.dtype() == DType::Int64, op, ": labels must be int64, got ", labels.str());
  EFFNET_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), op, ": labels must be (N) = (",
               logits.size(0), ") for logits ", logits.str(), ", got ", labels.str());
  EFFNET_SAME_DEVICE(op, logits, labels);
  EFFNET_CHECK(logits.size(1) > 0, op, ": logits have no classes: ", logits.str());
}

// The CPU check is exact and immediate; CUDA labels are checked by the kernels (see loss.h).
void check_labels_cpu(const char* op, const Tensor& labels, int64_t classes) {
  const int64_t* p = labels.data<int64_t>();
  for (int64_t n = 0; n < labels.numel(); ++n)
    EFFNET_CHECK(p[n] >= 0 && p[n] < classes, op, ": label ", p[n], " at row ", n, " is outside [0, ", classes,
                 ")");
}

// Fused backward: the incoming gradient is a scalar, so dx is one kernel over (N, C).
struct CrossEntropyBackward : Node {
  double eps = 0.0;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor logits = saved(0), labels = saved(1), lse = saved(2);
    EFFNET_CHECK(g.numel() == 1 && g.dtype() == logits.dtype() && g.device() == logits.device(), name(),
                 ": expected a one-element gradient like ", logits.str(), ", got ", g.str());
    Tensor dx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    EFFNET_DISPATCH(logits, cross_entropy_backward, logits, labels, lse, g, eps, dx);
    return {dx};
  }
  const char* name() const override { return "CrossEntropyBackward"; }
};

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  check_inputs("cross_entropy", logits, labels);
  EFFNET_CHECK(logits.size(0) > 0, "cross_entropy: empty batch ", logits.str());
  EFFNET_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], got ",
               label_smoothing);
  const int64_t N = logits.size(0);
  Tensor row_loss = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  if (!logits.is_cuda()) check_labels_cpu("cross_entropy", labels, logits.size(1));
  EFFNET_DISPATCH(logits, cross_entropy_forward, logits, labels, label_smoothing, row_loss, lse);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = mean(row_loss);
  }
  if (autograd::needs_grad(logits)) {
    auto node = std::make_shared<CrossEntropyBackward>();
    node->eps = label_smoothing;
    node->save(logits);
    node->save(labels);
    node->save(lse);
    autograd::record(out, node, logits);
  }
  return out;
}

void count_correct_into(const Tensor& logits, const Tensor& labels, Tensor counters) {
  check_inputs("count_correct", logits, labels);
  EFFNET_CHECK(counters.defined() && counters.shape() == Shape{4} && counters.dtype() == DType::Int64 &&
                   counters.device() == logits.device(),
               "count_correct_into: counters must be int64 [4] on ", logits.device().str(), ", got ",
               counters.defined() ? counters.str() : "an undefined tensor");
  if (!logits.is_cuda()) check_labels_cpu("count_correct", labels, logits.size(1));
  EFFNET_DISPATCH(logits, count_correct, logits, labels, counters);
  counters.bump_version();
}

int64_t correct_of(const std::vector<int64_t>& counters, int64_t classes) {
  EFFNET_CHECK(counters.size() == 4, "correct_of: 4 counters expected, got ", counters.size());
  EFFNET_CHECK(counters[1] == 0, "count_correct: label ", counters[2], " at row ", counters[3], " is outside [0, ",
               classes, ") (", counters[1], " bad label(s))");
  return counters[0];
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  Tensor counters = Tensor::empty({4}, DType::Int64, logits.device());
  count_correct_into(logits, labels, counters);
  return correct_of(counters.to_vector<int64_t>(), logits.size(1));  // waits for the GPU
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  check_inputs("accuracy", logits, labels);
  EFFNET_CHECK(logits.size(0) > 0, "accuracy: empty batch ", logits.str());
  return double(count_correct(logits, labels)) / double(logits.size(0));
}

void check_label_errors() {
  if (cuda::available()) EFFNET_CUDA_ONLY(cuda_ops::check_label_errors());
}

}  // namespace effnet
