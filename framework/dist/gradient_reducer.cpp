// Bucketed, overlapped gradient averaging (see gradient_reducer.h).
#include "framework/dist/gradient_reducer.h"

#include "framework/core/creation.h"
#include "framework/dist/process_group.h"

namespace effnet::dist {

GradientReducer::GradientReducer(std::vector<Tensor> params, size_t bucket_bytes, Communicator* comm)
    : params_(std::move(params)), comm_(comm) {
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const bool fits = !buckets_.empty() && bytes + p.nbytes() <= bucket_bytes &&
                      params_[buckets_.back().members.front()].dtype() == p.dtype() &&
                      params_[buckets_.back().members.front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().members.push_back(k);
    buckets_.back().numel += p.numel();
    bytes += p.nbytes();
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t k : buckets_[b].members) params_[k].impl().post_accumulate_grad_hook = [this, b] { on_gradient(b); };
}

GradientReducer::~GradientReducer() {
  for (Tensor& p : params_) p.impl().post_accumulate_grad_hook = nullptr;
}

Communicator& GradientReducer::comm_for(const Tensor& t) const { return comm_ ? *comm_ : communicator(t.device()); }

void GradientReducer::on_gradient(size_t b) {
  Bucket& bucket = buckets_[b];
  if (++bucket.ready == bucket.members.size()) launch(b);
  comm_for(params_[bucket.members.front()]).progress();
}

void GradientReducer::launch(size_t b) {
  Bucket& bucket = buckets_[b];
  const Tensor& first = params_[bucket.members.front()];
  bucket.flat = Tensor::empty({bucket.numel}, first.dtype(), first.device());
  int64_t offset = 0;
  for (size_t k : bucket.members) {
    const Tensor& p = params_[k];
    Tensor slot = bucket.flat.slice(offset, offset + p.numel());
    if (p.grad().defined()) slot.copy_(p.grad().reshape({p.numel()}));
    else slot.zero_();
    offset += p.numel();
  }
  bucket.work = comm_for(first).all_reduce_async(bucket.flat, ReduceOp::Sum);
  launched_.push_back(b);
}

void GradientReducer::finish() {
  for (size_t b = 0; b < buckets_.size(); ++b)
    if (!buckets_[b].work) launch(b);  // parameters without a gradient in this pass
  if (params_.empty()) return;
  const double scale = 1.0 / double(comm_for(params_.front()).size());
  for (size_t b : launched_) {
    Bucket& bucket = buckets_[b];
    bucket.work->wait();
    if (scale != 1.0) bucket.flat.mul_(scale);
    int64_t offset = 0;
    for (size_t k : bucket.members) {
      const Tensor& p = params_[k];
      Tensor avg = bucket.flat.slice(offset, offset + p.numel()).reshape(p.shape());
      if (p.grad().defined()) p.grad().copy_(avg);
      else p.set_grad(avg.clone());
      offset += p.numel();
    }
    bucket.work.reset();
    bucket.flat = Tensor();
    bucket.ready = 0;
  }
  launched_.clear();
}

}  // namespace effnet::dist
