// The autograd graph. Every recorded op output points (grad_fn) at a Node; the node's `next`
// edges point at the nodes of its inputs (or at an AccumulateGrad node for a leaf), so backward
// walks from the loss to the leaves. A node keeps what its backward needs as SavedTensors, which
// remember the version of the memory at save time: if an in-place op changes that memory before
// backward, unpacking fails with a message instead of producing a wrong gradient.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace effnet {

// A tensor kept for backward, detached (no grad_fn, so no reference cycle output -> node -> output).
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor unpack(const char* op_name) const;
  void release() { tensor_ = Tensor(); released_ = true; }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
  bool released_ = false;
};

struct Node {
  virtual ~Node() = default;
  // Gradient w.r.t. each input (same order as `next`); undefined where an input needs none.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual const char* name() const = 0;

  std::vector<std::shared_ptr<Node>> next;  // per input; nullptr where no gradient is wanted

  // Saved tensors, released after backward unless the graph is retained.
  size_t save(const Tensor& t) { saved_.emplace_back(t); return saved_.size() - 1; }
  Tensor saved(size_t i) const { return saved_.at(i).unpack(name()); }
  void release_saved() { for (auto& s : saved_) s.release(); }

 private:
  std::vector<SavedTensor> saved_;
};

// Terminal node of a leaf that requires grad: adds the incoming gradient into leaf.grad.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf(std::move(leaf)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  const char* name() const override { return "AccumulateGrad"; }
  std::shared_ptr<TensorImpl> leaf;
};

// ---- grad mode ---------------------------------------------------------------------------------
bool grad_enabled();
// Turns off recording in its scope (inference, optimizer updates, the engine itself).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

namespace autograd {
// True when grad mode is on and any input requires grad: the op must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const Tensor& a) { return needs_grad({&a}); }
inline bool needs_grad(const Tensor& a, const Tensor& b) { return needs_grad({&a, &b}); }
// Where the gradient of t goes: its grad_fn, its leaf accumulator, or nullptr.
std::shared_ptr<Node> gradient_edge(const Tensor& t);
// Connects `node` to the inputs and makes it out's grad_fn.
void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs);
inline void record(Tensor& out, std::shared_ptr<Node> node, const Tensor& a) { record(out, std::move(node), {&a}); }
inline void record(Tensor& out, std::shared_ptr<Node> node, const Tensor& a, const Tensor& b) {
  record(out, std::move(node), {&a, &b});
}
// For a node whose input gradient has the shape of a tensor t it saved (unary ops, softmax): checks
// that the incoming gradient g matches t (shape, dtype, device) and returns an uninitialised tensor
// like t for the input gradient. `what` names t in the error.
Tensor empty_grad_like(const Node& node, const Tensor& g, const Tensor& t, const char* what);
// True when t's memory is reachable through t's handle alone (no other handle, view or saved
// copy): the engine may then keep or modify it in place instead of copying.
bool sole_owner(const Tensor& t);
// Runs the backward pass from root with the given gradient.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);
}  // namespace autograd

}  // namespace effnet
