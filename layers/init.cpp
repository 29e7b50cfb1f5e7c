// Seeded weight initialisers (see init.h).
#include "layers/init.h"

#include <cmath>

#include "framework/core/creation.h"

namespace effnet::nn::init {

Tensor kaiming_normal_fan_out(const Shape& shape, Generator& gen) {
  EFFNET_CHECK(shape.size() >= 2, "kaiming_normal_fan_out: need rank >= 2, got ", shape_str(shape));
  int64_t fan_out = shape[0];
  for (size_t i = 2; i < shape.size(); ++i) fan_out *= shape[i];
  return normal(shape, 0.0, std::sqrt(2.0 / double(fan_out)), gen);
}

Tensor uniform(const Shape& shape, double bound, Generator& gen) {
  return effnet::uniform(shape, -bound, bound, gen);
}

}  // namespace effnet::nn::init
