// Tensor storage, views, device moves and host reads, with the autograd nodes of the
// differentiable ones (reshape, slice, clone, to).
#include "framework/core/tensor.h"

#include <cstring>
#include <sstream>

#include "framework/autograd/node.h"
#include "framework/core/allocator.h"
#include "framework/core/backend.h"
#include "framework/core/context.h"
#include "framework/core/parse_number.h"
#include "framework/core/core_kernels.h"
#include "framework/core/creation.h"

#ifdef EFFNET_WITH_CUDA
#include "framework/core/cuda_check.h"
#endif

namespace effnet {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    const std::optional<int64_t> index = parse_int64(s.substr(5));
    if (index && *index == 0) return cuda(0);
    // One GPU per process: the context, the allocator and the loader's stream all live on the
    // first visible device, so another index would mix devices. The launcher picks the GPU.
    if (index && *index > 0 && *index < 1024)
      EFFNET_THROW("device '", s, "': each effnet process uses one GPU, its first visible one (cuda or cuda:0); "
                   "choose which with CUDA_VISIBLE_DEVICES=", *index, " (docs/distributed.md)");
  }
  EFFNET_THROW("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

// ---- Storage --------------------------------------------------------------------------------------
Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  EFFNET_CHECK(device.is_cpu() || device.index == 0, "a tensor on ", device.str(),
               ": each effnet process uses one GPU, cuda:0 (choose it with CUDA_VISIBLE_DEVICES)");
  data_ = device.is_cuda() ? cuda::allocate(nbytes) : cpu_allocate(nbytes);
}

Storage::~Storage() {
  if (device_.is_cuda()) cuda::release(data_);
  else cpu_free(data_);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  count_op("copy");
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#ifdef EFFNET_WITH_CUDA
  cudaMemcpyKind kind = dst_dev.is_cpu() ? cudaMemcpyDeviceToHost
                        : src_dev.is_cpu() ? cudaMemcpyHostToDevice
                                           : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, cuda::stream()));
  count_cuda_launch();
  // Host memory may be reused by the caller as soon as we return.
  if (kind != cudaMemcpyDeviceToDevice) CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
#else
  EFFNET_THROW("copy to or from a CUDA tensor in a build without CUDA");
#endif
}

// ---- basic queries ---------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) EFFNET_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  EFFNET_CHECK(d >= -n && d < n, "dimension ", d, " out of range for ", str());
  return shape()[size_t(d < 0 ? d + n : d)];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

// ---- autograd plumbing --------------------------------------------------------------------------
Tensor& Tensor::set_requires_grad(bool on) {
  EFFNET_CHECK(is_leaf(), "requires_grad can only be changed on a leaf tensor; use detach()");
  EFFNET_CHECK(!on || is_floating(dtype()), "only floating tensors can require grad, got ", str());
  impl().requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    EFFNET_CHECK(g.shape() == shape() && g.device() == device(), "set_grad: gradient ", g.str(),
                 " for tensor ", str());
  impl().grad = g.impl_ptr();
}

namespace {
void check_inplace_allowed(const Tensor& t, const char* op) {
  EFFNET_CHECK(!(grad_enabled() && t.is_leaf() && t.impl().requires_grad), op,
               ": in-place change of a leaf that requires grad (", t.str(),
               "); do it under NoGradGuard");
}

struct ReshapeBackward : Node {
  Shape input_shape;
  std::vector<Tensor> apply(const Tensor& g) override { return {g.reshape(input_shape)}; }
  const char* name() const override { return "ReshapeBackward"; }
};

struct SliceBackward : Node {
  Shape input_shape;
  int64_t begin = 0, end = 0;
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor full = zeros(input_shape, g.dtype(), g.device());
    full.slice(begin, end).copy_(g);
    return {full};
  }
  const char* name() const override { return "SliceBackward"; }
};

struct CloneBackward : Node {
  std::vector<Tensor> apply(const Tensor& g) override { return {g}; }
  const char* name() const override { return "CloneBackward"; }
};

struct ToBackward : Node {
  Device device;
  DType dtype;
  std::vector<Tensor> apply(const Tensor& g) override { return {g.to(device).to(dtype)}; }
  const char* name() const override { return "ToBackward"; }
};

// A new TensorImpl viewing the same storage.
Tensor make_view(const Tensor& t, Shape shape, size_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl().storage;
  impl->offset = t.impl().offset + extra_offset;
  impl->shape = std::move(shape);
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}
}  // namespace

// ---- views --------------------------------------------------------------------------------------
Tensor Tensor::reshape(Shape new_shape) const {
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < new_shape.size(); ++i) {
    if (new_shape[i] == -1) {
      EFFNET_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(new_shape));
      infer = int64_t(i);
    } else {
      EFFNET_CHECK(new_shape[i] >= 0, "reshape: bad dimension in ", shape_str(new_shape));
      known *= new_shape[i];
    }
  }
  if (infer >= 0) {
    EFFNET_CHECK(known > 0 && numel() % known == 0, "reshape: cannot view ", str(), " as ", shape_str(new_shape));
    new_shape[size_t(infer)] = numel() / known;
  }
  EFFNET_CHECK(shape_numel(new_shape) == numel(), "reshape: cannot view ", str(), " as ", shape_str(new_shape));
  Tensor out = make_view(*this, new_shape, 0);
  if (autograd::needs_grad(*this)) {
    auto node = std::make_shared<ReshapeBackward>();
    node->input_shape = shape();
    autograd::record(out, node, *this);
  }
  return out;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  EFFNET_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= size(0), "slice [", begin, ", ", end,
               ") out of range for ", str());
  Shape s = shape();
  s[0] = end - begin;
  int64_t row = s[0] == 0 ? 0 : shape_numel(s) / s[0];
  Tensor out = make_view(*this, s, size_t(begin * row));
  if (autograd::needs_grad(*this)) {
    auto node = std::make_shared<SliceBackward>();
    node->input_shape = shape();
    node->begin = begin;
    node->end = end;
    autograd::record(out, node, *this);
  }
  return out;
}

Tensor Tensor::detach() const { return make_view(*this, shape(), 0); }

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  copy_bytes(out.raw_data(), device(), raw_data(), device(), nbytes());
  if (autograd::needs_grad(*this)) autograd::record(out, std::make_shared<CloneBackward>(), *this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = Tensor::empty(shape(), dtype(), d);
  copy_bytes(out.raw_data(), d, raw_data(), device(), nbytes());
  if (autograd::needs_grad(*this)) {
    auto node = std::make_shared<ToBackward>();
    node->device = device();
    node->dtype = dtype();
    autograd::record(out, node, *this);
  }
  return out;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), t, device());
  {
    NoGradGuard no_grad;
    out.copy_(*this);
  }
  if (autograd::needs_grad(*this) && is_floating(t)) {
    auto node = std::make_shared<ToBackward>();
    node->device = device();
    node->dtype = dtype();
    autograd::record(out, node, *this);
  }
  return out;
}

// ---- host reads ----------------------------------------------------------------------------------
template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor src = dtype() == dtype_of<T>::value ? *this : to(dtype_of<T>::value);
  std::vector<T> v(static_cast<size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), src.raw_data(), src.device(), v.size() * sizeof(T));
  return v;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  EFFNET_CHECK(numel() == 1, "item() needs a one-element tensor, got ", str());
  if (dtype() == DType::Int64) return double(to_vector<int64_t>()[0]);
  return to_vector<double>()[0];
}

// ---- in-place ------------------------------------------------------------------------------------
Tensor& Tensor::fill_(double value) {
  check_inplace_allowed(*this, "fill_");
  EFFNET_DISPATCH(*this, fill, raw_data(), dtype(), numel(), value);
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace_allowed(*this, "copy_");
  EFFNET_CHECK(src.shape() == shape(), "copy_: source ", src.str(), " into ", str());
  if (src.dtype() == dtype()) {
    copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
  } else {
    // Convert on the source's device, then move the bytes.
    Tensor conv = Tensor::empty(src.shape(), dtype(), src.device());
    EFFNET_DISPATCH(src, convert, conv.raw_data(), dtype(), src.raw_data(), src.dtype(), src.numel());
    copy_bytes(raw_data(), device(), conv.raw_data(), conv.device(), nbytes());
  }
  bump_version();
  return *this;
}

// ---- arithmetic the engine needs (the op families build on top of the core) ----------------------
namespace {
void check_same_floating(const char* op, const Tensor& a, const Tensor& b) {
  EFFNET_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device(), op, ": ", a.str(),
               " and ", b.str(), " must have one shape, dtype and device");
  EFFNET_CHECK(is_floating(a.dtype()), op, ": floating tensors expected, got ", a.str());
}

// out = y + alpha * x, in place when out is y.
void axpy_into(const Tensor& out, const Tensor& y, const Tensor& x, double alpha) {
  EFFNET_DISPATCH(out, axpy, out.raw_data(), y.raw_data(), x.raw_data(), out.dtype(), out.numel(), alpha);
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace_allowed(*this, "add_");
  check_same_floating("add_", *this, other);
  axpy_into(*this, *this, other, alpha);
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace_allowed(*this, "mul_");
  EFFNET_CHECK(is_floating(dtype()), "mul_: floating tensor expected, got ", str());
  EFFNET_DISPATCH(*this, scale, raw_data(), dtype(), numel(), factor);
  bump_version();
  return *this;
}

Tensor sum_of(const Tensor& a, const Tensor& b) {
  check_same_floating("sum_of", a, b);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  axpy_into(out, a, b, 1.0);
  return out;
}

}  // namespace effnet
