// Tensor: a handle to a contiguous, row-major block of one dtype on one device, plus the autograd
// fields (requires_grad, grad, grad_fn). Copies of a Tensor share the same TensorImpl; views
// (reshape, slice along dim 0, detach) share the Storage, and with it the version counter that
// lets backward detect in-place changes to a saved tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/dtype.h"

namespace effnet {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

struct Node;  // autograd graph node (framework/autograd/node.h)

// Owns one device allocation. The version counter lives here so that all views of the same memory
// see every in-place change.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // in elements, for views into a larger storage
  Shape shape;
  DType dtype = DType::Float32;
  // autograd
  bool requires_grad = false;           // set on leaves by the user
  std::shared_ptr<Node> grad_fn;        // set on outputs of recorded ops
  std::shared_ptr<TensorImpl> grad;     // accumulated gradient of a leaf
  std::weak_ptr<Node> grad_accumulator; // the leaf's AccumulateGrad node, made once
  // Called by the backward engine once this leaf's gradient of the current backward pass is
  // complete (PyTorch's post-accumulate-grad hook): how data parallelism starts reducing a
  // bucket of gradients while the rest of backward still runs (framework/dist/gradient_reducer.h).
  std::function<void()> post_accumulate_grad_hook;
  std::string name;                     // optional, for error messages ("blocks.3.bn1.weight")
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (uninitialised memory: use the factories in creation.h for values) -------------
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage ? impl().storage->device() : Device::cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "float32[8, 3, 32, 32] on cpu"

  void* raw_data() const;
  template <class T>
  T* data() const {
    EFFNET_CHECK(dtype_of<T>::value == dtype(), "data<", dtype_name(dtype_of<T>::value), ">() on a ",
                 dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
  }

  // ---- views and copies --------------------------------------------------------------------------
  Tensor reshape(Shape shape) const;           // a view; one dimension may be -1; differentiable
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of dim 0, a view; differentiable
  Tensor detach() const;                        // same memory, no autograd history
  Tensor clone() const;                         // new memory, same values; differentiable
  Tensor to(Device device) const;               // differentiable; returns *this when already there
  Tensor to(DType dtype) const;                 // differentiable between float types
  Tensor contiguous_copy() const { return clone(); }

  // Host copies, for tests and small reads. item() synchronises with the GPU.
  template <class T> std::vector<T> to_vector() const;
  double item() const;

  // ---- in-place (bump the version; not recorded by autograd) -------------------------------------
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // same shape; any devices; converts float types
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other (same shape)
  Tensor& mul_(double factor);                            // this *= factor

  // ---- autograd ----------------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad || impl().grad_fn != nullptr; }
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Runs backward from this tensor. Without a gradient the tensor must hold one element.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  uint64_t version() const { return impl().storage->version(); }
  void bump_version() const { impl().storage->bump_version(); }
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string n) { impl().name = std::move(n); return *this; }

  TensorImpl& impl() const {
    EFFNET_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// a + b for two floating tensors of one shape, dtype and device, not recorded by autograd: how the
// engine sums the gradients that meet at one tensor (framework/ops/binary.h has the broadcasting,
// differentiable add).
Tensor sum_of(const Tensor& a, const Tensor& b);

// Tensors by name, in a fixed order: a module's parameters and buffers, an optimizer's state.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Copies nbytes between any two devices (host <-> device copies are explicit and synchronous).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

}  // namespace effnet
