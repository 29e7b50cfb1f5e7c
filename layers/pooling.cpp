// Global average pooling layer (see pooling.h).
#include "layers/pooling.h"

#include "framework/ops/pooling.h"

namespace effnet::nn {

Tensor GlobalAvgPool::forward(const Tensor& x) {
  Tensor y = global_avg_pool2d(x);
  return flatten_ ? y.reshape({x.size(0), x.size(1)}) : y;
}

}  // namespace effnet::nn
