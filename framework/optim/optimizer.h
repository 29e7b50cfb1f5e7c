// Optimizer: the base of SGD, Adam/AdamW and RMSprop. It owns the list of parameters, the
// learning rate, the count of completed steps and the per-parameter state buffers, and it runs
// the part of a step every optimizer shares: no-grad mode, skipping parameters without a
// gradient, checking each gradient, and bumping the parameter's version after its in-place update.
// Subclasses supply the update of a group of parameters that share dtype, device and whatever
// else their update's constants depend on (group_key): one multi-tensor backend call per group,
// so a whole model usually steps in one call (on CUDA, one launch per 64 tensors).
//
// State for checkpoints is a list of named tensors "<buffer>.<parameter index>" ("momentum.3",
// "exp_avg.3", "exp_avg_sq.3", "square_avg.3", "step.3"). Restoring it into an optimizer built
// over the same parameters, together with set_step_count(), resumes bit-identically. Buffers are
// created on a parameter's first update, so a parameter that never had a gradient has no entries.
// Learning-rate schedules (lr_schedule.h) are pure functions of step_count(), so they need no state.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace effnet {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter whose grad() is defined, in place on its device, then counts the step.
  void step();
  // Drops every gradient (set_grad(Tensor())), PyTorch's set_to_none default: the next backward
  // writes fresh gradients instead of adding into stale ones, and skipped parameters stay skipped.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps);
  const std::string& name() const { return name_; }  // "SGD", "Adam", ... for messages

  // Copies of the state buffers (safe to keep while training goes on), named as above.
  virtual NamedTensors state() const;
  // Replaces all state: buffers not named in `state` are dropped (as if never created). Each
  // tensor must have its parameter's shape and dtype; it is copied onto the parameter's device.
  // Unknown names, indices out of range, duplicates and a parameter with only some of its buffers
  // are errors, and nothing is changed then.
  virtual void load_state(const NamedTensors& state);

 protected:
  // params: leaf float tensors. Those that do not require grad may be included (frozen layers):
  // without a gradient they are simply skipped. Each tensor may appear only once.
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  // One per-parameter buffer kind ("exp_avg"): index i belongs to params()[i], undefined until
  // the parameter's first update. Subclasses register their buffers in their constructor and keep
  // the returned reference (stable: buffers live in a deque).
  struct StateBuffer {
    std::string name;
    std::vector<Tensor> tensors;
    // Keeps the buffer an update has just written, bumping its version. Called only once the
    // update succeeded, so that a failed one leaves the state as it was.
    void keep(size_t index, const Tensor& t) {
      t.bump_version();
      tensors[index] = t;
    }
  };
  StateBuffer& add_state_buffer(const std::string& name);

  // Called under NoGradGuard for each group of parameters with a gradient (indices into params(),
  // in order); within a group the parameters share dtype, device and group_key, and each grad
  // matches its parameter. Must update the parameters (and buffers) in place; the base bumps the
  // parameters' versions.
  virtual void update(const std::vector<size_t>& indices) = 0;
  // What else a group must share (Adam: the parameter's own step count, which its bias
  // corrections use; SGD: whether the momentum buffer exists yet). 0 unless overridden.
  virtual int64_t group_key(size_t /*index*/) const { return 0; }
  // The lists a backend update takes: params()[i] and its gradient for each index.
  std::vector<Tensor> params_at(const std::vector<size_t>& indices) const;
  std::vector<Tensor> grads_at(const std::vector<size_t>& indices) const;

  // Splits "exp_avg.3" into ("exp_avg", 3) and checks the index; throws with the optimizer's name.
  std::pair<std::string, size_t> parse_state_name(const std::string& full_name) const;

 private:
  std::string name_;
  std::vector<Tensor> params_;
  double lr_;
  int64_t step_count_ = 0;
  std::deque<StateBuffer> buffers_;
};

}  // namespace effnet
