// Tensor factories: constants, host data, ranges and seeded random draws.
#pragma once

#include <vector>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace effnet {

Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// 0, 1, ..., n-1
Tensor arange(int64_t n, DType dtype = DType::Float32, Device device = Device::cpu());

// Copies host values into a new tensor of the matching dtype (float, double or int64_t).
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());

// Random draws (float dtypes): uniform in [low, high), normal(mean, std); int64 in [low, high).
Tensor uniform(const Shape& shape, double low, double high, Generator& gen = default_generator(),
               DType dtype = DType::Float32, Device device = Device::cpu());
Tensor normal(const Shape& shape, double mean, double std, Generator& gen = default_generator(),
              DType dtype = DType::Float32, Device device = Device::cpu());
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator(),
               Device device = Device::cpu());
inline Tensor rand(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::Float32,
                   Device device = Device::cpu()) {
  return uniform(shape, 0.0, 1.0, gen, dtype, device);
}
inline Tensor randn(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::Float32,
                    Device device = Device::cpu()) {
  return normal(shape, 0.0, 1.0, gen, dtype, device);
}

}  // namespace effnet
