// The backward engine: finds every node reachable from the root, counts how many gradients each
// node will receive, then runs nodes in reverse topological order (a node runs once all its
// gradients have arrived and been summed). Saved tensors are released as each node finishes
// unless the graph is retained, so a second backward through a freed graph fails clearly.
#include <unordered_map>

#include "framework/autograd/node.h"
#include "framework/core/creation.h"

namespace effnet {

// ---- SavedTensor --------------------------------------------------------------------------------
SavedTensor::SavedTensor(const Tensor& t) : tensor_(t.defined() ? t.detach() : Tensor()) {
  if (t.defined()) version_ = t.version();
}

Tensor SavedTensor::unpack(const char* op_name) const {
  if (released_)
    EFFNET_THROW(op_name, ": trying to backward through the graph a second time (its saved tensors were "
                 "freed); call backward(grad, /*retain_graph=*/true) the first time");
  if (tensor_.defined() && tensor_.version() != version_)
    EFFNET_THROW(op_name, ": a tensor saved for backward (", tensor_.str(), ") was modified in place: "
                 "version ", version_, " when saved, now ", tensor_.version());
  return tensor_;
}

// ---- grad mode ----------------------------------------------------------------------------------
namespace {
thread_local bool t_grad_enabled = true;
}
bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

// ---- AccumulateGrad -----------------------------------------------------------------------------
namespace autograd {
bool sole_owner(const Tensor& t) {
  const auto& impl = t.impl_ptr();
  return impl && impl.use_count() == 1 && impl->storage && impl->storage.use_count() == 1 &&
         impl->offset == 0 && impl->storage->nbytes() == t.nbytes() && !impl->grad_fn && !impl->requires_grad;
}
}  // namespace autograd

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  EFFNET_CHECK(g.shape() == leaf->shape && g.dtype() == leaf->dtype, "gradient ", g.str(), " for leaf ",
               leaf->name.empty() ? "" : leaf->name + " ", "of shape ", shape_str(leaf->shape), " and dtype ",
               dtype_name(leaf->dtype));
  if (!leaf->grad) {
    // The first arrival becomes .grad as it is when nothing else can see its memory (the engine
    // hands over its only reference); a gradient shared with other branches, with the caller of
    // backward() or through a view is copied, so that later in-place accumulation into .grad
    // cannot change what they hold.
    leaf->grad = autograd::sole_owner(g) ? g.impl_ptr() : g.clone().impl_ptr();
  } else {
    Tensor(leaf->grad).add_(g);
  }
  // The engine runs a node once all its incoming gradients are summed, so this is the leaf's last
  // arrival of the pass.
  if (leaf->post_accumulate_grad_hook) leaf->post_accumulate_grad_hook();
  return {};
}

namespace autograd {

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl& impl = t.impl();
  if (impl.grad_fn) return impl.grad_fn;
  auto acc = impl.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl.grad_accumulator = acc;
  }
  return acc;
}

void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs) {
  node->next.clear();
  for (const Tensor* t : inputs) node->next.push_back(gradient_edge(*t));
  out.impl().grad_fn = std::move(node);
}

Tensor empty_grad_like(const Node& node, const Tensor& g, const Tensor& t, const char* what) {
  EFFNET_CHECK(g.shape() == t.shape() && g.dtype() == t.dtype() && g.device() == t.device(), node.name(),
               ": gradient ", g.str(), " does not match ", what, " ", t.str());
  return Tensor::empty(t.shape(), t.dtype(), t.device());
}

void run_backward(const Tensor& root, const Tensor& grad_in, bool retain_graph) {
  EFFNET_CHECK(root.requires_grad(), "backward() on a tensor that does not require grad ", root.str());
  Tensor grad = grad_in;
  if (!grad.defined()) {
    EFFNET_CHECK(root.numel() == 1, "backward() without a gradient needs a one-element tensor, got ",
                 root.str());
    grad = ones(root.shape(), root.dtype(), root.device());
  }
  EFFNET_CHECK(grad.shape() == root.shape(), "backward(): gradient ", shape_str(grad.shape()),
               " does not match tensor ", shape_str(root.shape()));
  NoGradGuard no_grad;
  std::shared_ptr<Node> start = gradient_edge(root);

  // Count incoming edges per node over the reachable graph (iterative DFS: graphs are deep).
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{start.get()};
  pending[start.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& nx : n->next) {
      if (!nx) continue;
      auto [it, first] = pending.emplace(nx.get(), 0);
      it->second++;
      if (first) stack.push_back(nx.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads{{start.get(), grad}};
  std::vector<std::shared_ptr<Node>> ready{start};
  while (!ready.empty()) {
    std::shared_ptr<Node> n = std::move(ready.back());
    ready.pop_back();
    // A node whose every incoming path carried no gradient is not applied, but its inputs are
    // still counted down so that nodes reached by other paths run.
    std::vector<Tensor> input_grads;
    auto git = grads.find(n.get());
    if (git != grads.end()) {
      Tensor g = std::move(git->second);
      grads.erase(git);  // the engine's reference is now g alone, which AccumulateGrad may keep
      input_grads = n->apply(g);
    }
    if (!retain_graph) n->release_saved();
    for (size_t i = 0; i < n->next.size(); ++i) {
      Node* nx = n->next[i].get();
      if (!nx) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        auto it = grads.find(nx);
        if (it == grads.end()) {
          grads.emplace(nx, std::move(input_grads[i]));
        } else if (sole_owner(it->second)) {
          it->second.add_(input_grads[i]);  // gradients meeting at one tensor are summed, in place
        } else {
          it->second = sum_of(it->second, input_grads[i]);  // ... or into new memory while shared
        }
      }
      if (--pending[nx] == 0) ready.push_back(n->next[i]);
    }
  }
}

}  // namespace autograd

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::run_backward(*this, grad, retain_graph);
}

}  // namespace effnet
