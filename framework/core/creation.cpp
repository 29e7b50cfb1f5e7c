// Tensor factories: shapes and generator state here, the element loops in core_kernels_cpu.cpp and
// core_kernels_cuda.cu.
#include "framework/core/creation.h"

#include "framework/core/backend.h"
#include "framework/core/core_kernels.h"

namespace effnet {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}
void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }

Tensor arange(int64_t n, DType dtype, Device device) {
  Tensor t = Tensor::empty({n}, dtype, device);
  EFFNET_DISPATCH(device, arange, t.raw_data(), dtype, n);
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  EFFNET_CHECK(int64_t(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
               " values for shape ", shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_of<T>::value, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), values.size() * sizeof(T));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype, Device device) {
  EFFNET_CHECK(low < high, "uniform: need low < high, got ", low, " and ", high);
  Tensor t = Tensor::empty(shape, dtype, device);
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed(), offset = gen.take(uint64_t(n));
  EFFNET_DISPATCH(device, uniform, t.raw_data(), dtype, n, seed, offset, low, high);
  return t;
}

Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype, Device device) {
  EFFNET_CHECK(std >= 0, "normal: std must be >= 0, got ", std);
  Tensor t = Tensor::empty(shape, dtype, device);
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed(), offset = gen.take(uint64_t(n));
  EFFNET_DISPATCH(device, normal, t.raw_data(), dtype, n, seed, offset, mean, std);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, Device device) {
  EFFNET_CHECK(low < high, "randint: need low < high, got ", low, " and ", high);
  Tensor t = Tensor::empty(shape, DType::Int64, device);
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed(), offset = gen.take(uint64_t(n));
  EFFNET_DISPATCH(device, randint, t.data<int64_t>(), n, seed, offset, low, high);
  return t;
}

}  // namespace effnet
