// Gradient averaging for data parallelism, overlapped with backward (PyTorch DDP's reducer):
// the parameters are grouped into buckets of about `bucket_bytes` (the training loop uses 4 MiB,
// EFFNET_BUCKET_MB), in reverse order, since
// backward produces the last layers' gradients first. Each parameter gets a post-accumulate-grad
// hook (core/tensor.h); when the last gradient of a bucket is complete, the bucket is packed into
// one flat tensor and its all-reduce starts, while backward goes on with earlier layers.
// finish(), after backward and before the optimizer step, starts what is left (a parameter that
// got no gradient contributes zeros), waits, divides by the world size and writes the averages
// back into the gradients, so every rank steps with the same gradients.
// Bucket boundaries are the same on every rank (the same parameters in the same order), and so is
// the order in which buckets start (the same graph), as the collectives require.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "framework/dist/communicator.h"

namespace effnet::dist {

class GradientReducer {
 public:
  // params: the trainable parameters, the same list on every rank. 25 MiB: DDP's default.
  // comm: the communicator to reduce over; by default the process group's for the parameters'
  // device (process_group.h).
  explicit GradientReducer(std::vector<Tensor> params, size_t bucket_bytes = size_t(25) << 20,
                           Communicator* comm = nullptr);
  ~GradientReducer();  // removes the hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Completes the reduction of this backward pass; re-arms for the next one.
  void finish();
  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into params_
    int64_t numel = 0;
    size_t ready = 0;
    Tensor flat;
    std::unique_ptr<Work> work;
  };
  void on_gradient(size_t bucket);
  void launch(size_t bucket);

  Communicator& comm_for(const Tensor& t) const;

  std::vector<Tensor> params_;
  Communicator* comm_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> launched_;  // bucket indices, in the order their all-reduce started
};

}  // namespace effnet::dist
