// Dropout and drop-connect (stochastic depth), both inverted: kept values are scaled by
// 1 / (1 - p) in training so that nothing changes at eval time.
//   dropout:      each element is kept with probability 1 - p.
//   drop_connect: each sample (slice along dim 0) is kept or zeroed as a whole, as EfficientNet
//                 does on the residual branch of its MBConv blocks.
// Masks come from the Philox generator: element (or sample) k of a call uses counter
// gen.take(count) + k, so CPU and CUDA give identical masks for the same generator state.
// In eval mode, or with p == 0, both return x itself and draw nothing from the generator.
// The backward node keeps (seed, offset) and regenerates the mask instead of saving it: no
// activation-sized mask lives until backward, at the price of re-running Philox (cheap next to
// the memory traffic of the gradient itself).
#pragma once

#include "framework/core/rng.h"
#include "framework/core/tensor.h"

namespace effnet {

// p in [0, 1).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());
// x: (N, ...) with at least one dimension; p in [0, 1).
Tensor drop_connect(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace effnet
