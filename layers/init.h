// Weight initialisation as torchvision's EfficientNet does it, drawn from a seeded Generator.
#pragma once

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace effnet::nn::init {

// Normal(0, sqrt(2 / fan_out)) with fan_out = shape[0] * (product of shape[2:]), PyTorch's
// kaiming_normal_(mode="fan_out") for convolution weights.
Tensor kaiming_normal_fan_out(const Shape& shape, Generator& gen);
// Uniform(-bound, bound).
Tensor uniform(const Shape& shape, double bound, Generator& gen);

}  // namespace effnet::nn::init
